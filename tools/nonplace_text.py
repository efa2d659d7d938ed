"""Set aside text that a photo carries but that says nothing about where it was taken.

Three kinds, each common in photo collections and each read by OCR as if it were a sign:

* credits and watermarks: "© Google", "(c) 2009 J. Smith", "Photo by …", "Copyright …", and the
  stock-photo and map marks (Google, Street View, shutterstock, Getty Images, iStock, Alamy,
  dreamstime, 123RF, Depositphotos, Adobe Stock, Fotolia, Bigstock). A credit runs from its mark to
  the end of the line (credits are written last), so "Hotel Adriatic © Google" keeps "Hotel Adriatic";
* camera date stamps: a line that is only a date, perhaps with a time ("2009/07/14", "'08 7 14",
  "14.07.2009 12:31");
* map-viewer interface text: "Report a problem", "Image capture: Jul 2014", "Imagery ©2023",
  "Map data ©2023", "Terms of Use".

Google Street View panoramas carry the "© Google" watermark whatever the country; GeoNames lists
"Google" as an alternate name of Topeka, Kansas.
"""

from __future__ import annotations

import re

_MARKS = re.compile(
    r"(?:©|\(\s*c\s*\)|\bcopyright\b|\ball rights reserved\b"
    r"|\b(?:photo(?:graph)?s?|foto|image|picture|credit)s?\s*(?:by\b|:|courtesy\b)|\bcourtesy of\b"
    r"|\bg[o0]{2}g[l1]e\b|\bstreet\s*view\b|\bshutter\s*stock\b|\bgetty\s*images\b|\bistock(?:photo)?\b"
    r"|\balamy\b|\bdreamstime\b|\b123\s*rf\b|\bdeposit\s*photos\b|\badobe\s*stock\b|\bfotolia\b"
    r"|\bbigstock(?:photo)?\b"
    r"|\breport an? (?:problem|image)\b|\bimage capture\b|\b(?:imagery|map data)\s*(?:©|\d)"
    r"|\bterms of use\b)",
    re.IGNORECASE,
)
"""Where a credit, watermark or viewer label starts; it runs to the end of the line."""

_TIME = r"(?:\s+\d{1,2}[:.]\d{2}(?:[:.]\d{2})?(?:\s*[ap]\.?m\.?)?)?"
_DATE_STAMP = re.compile(
    r"\s*(?:"
    r"(?:19|20)\d{2}[./-]\d{1,2}[./-]\d{1,2}"  # 2009/07/14, 2009-07-14
    r"|\d{1,2}[./-]\d{1,2}[./-](?:19|20)?\d{2}"  # 14.07.2009, 07/14/09
    r"|['’`]\s?\d{2}\s+\d{1,2}\s+\d{1,2}"  # '08 7 14 (the orange digits of film cameras)
    r"|(?:19|20)\d{2}\s+\d{1,2}\s+\d{1,2}"  # 2009 7 14
    rf"){_TIME}\s*",
    re.IGNORECASE,
)
"""A line that is nothing but a date (and perhaps a time): a camera's date stamp."""

_HAS_TEXT = re.compile(r"[^\W_]")


def split_place_text(lines: list[str]) -> tuple[list[str], list[str]]:
    """Split OCR lines into the text worth reading and the credits, stamps and labels set aside.

    Args:
        lines: Text lines read from a photo, in reading order.

    Returns:
        (kept, set_aside): the kept lines, a credit cut off the end of a line that has other text;
        and what was set aside (whole lines, or the credit part of a line), in reading order.
    """
    kept: list[str] = []
    set_aside: list[str] = []
    for line in lines:
        text = line.strip()
        if not text:
            continue
        if _DATE_STAMP.fullmatch(text):
            set_aside.append(text)
            continue
        mark = _MARKS.search(text)
        if mark:
            set_aside.append(text[mark.start() :].strip())
            text = text[: mark.start()].strip(" \t-–—|·•,;:")
        if _HAS_TEXT.search(text):
            kept.append(text)
    return kept, set_aside
