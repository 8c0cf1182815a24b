"""The anchors of an HTML index page (PEP 503): ``html.parser`` driven for :mod:`.parse`.

Its own module so that ``html.parser`` is imported only when an HTML page is read: PEP 691 JSON
pages, and commands that read no page at all (a remembered resolve), do without it.
"""

from __future__ import annotations

from html.parser import HTMLParser


class AnchorParser(HTMLParser):
    """Collects ``<a>`` tags (href, attributes, text), ``<base href>`` and the
    ``pypi:repository-version`` meta tag. Attribute values arrive unescaped."""

    def __init__(self, *, collect_text: bool = False) -> None:
        super().__init__(convert_charrefs=True)
        self.anchors: list[tuple[str, dict[str, str | None], str]] = []
        self.base: str | None = None
        self.api_version: str | None = None
        self._collect_text = collect_text
        self._open: tuple[str, dict[str, str | None], list[str]] | None = None

    def feed_safely(self, text: str) -> None:
        try:
            self.feed(text)
            self.close()
        except Exception:  # noqa: BLE001 -- html.parser can trip on pathological input
            pass
        self._flush()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "a":
            self._flush()
            href = attributes.get("href")
            if href is not None:
                self._open = (href.strip(), attributes, [])
        elif tag == "base" and self.base is None and attributes.get("href"):
            self.base = (attributes["href"] or "").strip()
        elif tag == "meta" and attributes.get("name") == "pypi:repository-version":
            self.api_version = attributes.get("content")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag == "a":
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._flush()

    def handle_data(self, data: str) -> None:
        if self._open is not None and self._collect_text:
            self._open[2].append(data)

    def _flush(self) -> None:
        if self._open is not None:
            href, attrs, text = self._open
            self.anchors.append((href, attrs, "".join(text)))
            self._open = None
