"""Read an HTML report back: the tags, links, image sources and SVG paths it holds."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path


class Page(HTMLParser):
    """Collect the tags and attributes of a page (html.parser raises nothing, so count what it saw)."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.links: list[str] = []
        self.images: list[str] = []
        self.paths: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.links += [v or "" for k, v in attrs if k in ("src", "href", "xlink:href", "action")]
        if tag == "path":
            self.paths += [v or "" for k, v in attrs if k == "d"]
        if tag == "img":
            self.images += [v or "" for k, v in attrs if k == "src"]


def parse_page(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    page.close()
    return page
