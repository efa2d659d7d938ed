"""Credits, watermarks, camera date stamps and viewer labels are set aside from OCR lines."""

from __future__ import annotations

import pytest

from geosleuth.tools.nonplace_text import split_place_text


@pytest.mark.parametrize(
    "line",
    ["© Google", "©Google", "Google", "GOOGLE", "Street View", "Google Street View", "© Jane Smith",
     "Photo by Jane Doe", "Photo: J. Doe", "(c) 2009 John Smith", "Copyright 2011 Acme",
     "shutterstock.com · 123456789", "Getty Images", "iStock by Getty Images", "alamy stock photo",
     "dreamstime.com", "123RF", "Depositphotos", "Adobe Stock", "Report a problem",
     "Image capture: Jul 2014", "Imagery ©2023 Maxar", "2009/07/14", "2009-07-14", "'08 7 14",
     "14.07.2009 12:31", "07/14/09", "2009 7 14 10:05 PM"],
)
def test_credit_stamp_or_label_lines_are_set_aside(line):
    assert split_place_text([line]) == ([], [line])


@pytest.mark.parametrize(
    "line",
    ["Zagreb 12 km", "+385 1 234 5678", "Tel 0731 123456", "Open 9:00-18:00", "Main St 12", "1998",
     "KENNEDY SPACE CENTER", "Titusville, Florida", "satellite imagery", "Photo Studio Ivana",
     "A8 Stuttgart 45"],
)
def test_place_text_is_kept(line):
    kept, set_aside = split_place_text([line])
    assert (kept, set_aside) == ([line], [])


def test_only_the_credit_part_of_a_line_with_other_text_goes():
    kept, set_aside = split_place_text(["Hotel Adriatic © Google", "Riva 12 – Photo by M. Horvat", "Split"])
    assert kept == ["Hotel Adriatic", "Riva 12", "Split"]
    assert set_aside == ["© Google", "Photo by M. Horvat"]


def test_blank_lines_vanish_and_order_is_kept():
    assert split_place_text(["", "  ", "Zagreb", "© Google", "Ilica"]) == (["Zagreb", "Ilica"], ["© Google"])
