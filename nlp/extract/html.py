"""HTML pages (reports saved from government sites) to text with paragraph breaks kept."""

from __future__ import annotations

import re

from lxml import etree
from lxml import html as lxml_html

from nlp.errors import ExtractionError
from nlp.extract.text import decode_text
from nlp.model import ExtractedText, MediaType

_BLOCK_TAGS = {
    "p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article",
    "table", "ul", "ol", "blockquote", "pre", "title", "header", "footer",
}
_SKIP_TAGS = {"script", "style", "noscript", "template", "head", "nav", "iframe", "svg"}


def extract_html(data: bytes, source: str) -> ExtractedText:
    text, encoding = decode_text(data, source)
    # lxml refuses str input that still carries an XML encoding declaration (XHTML pages); the text
    # is already decoded, so the declaration has done its job
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text)
    try:
        root = lxml_html.document_fromstring(text)
    except (etree.ParserError, ValueError) as exc:
        raise ExtractionError(f"HTML 无法解析：{exc}", source=source) from exc
    title = root.findtext(".//title")
    parts: list[str] = []
    _walk(root, parts)
    body = "".join(parts)
    lines = [" ".join(line.split()) for line in body.split("\n")]
    cleaned = "\n".join(line for line in lines if line)
    return ExtractedText(
        source=source,
        media_type=MediaType.HTML,
        pages=[cleaned],
        encoding=encoding,
        backend="lxml",
        metadata={"html_title": title.strip() if title else None},
    )


def _walk(node: etree._Element, out: list[str]) -> None:
    tag = node.tag if isinstance(node.tag, str) else ""
    if tag.lower() in _SKIP_TAGS:
        if node.tail:
            out.append(node.tail)
        return
    block = tag.lower() in _BLOCK_TAGS
    if block:
        out.append("\n")
    if node.text and tag:
        out.append(node.text)
    for child in node:
        _walk(child, out)
    if tag.lower() in {"td", "th"}:
        out.append("\t")
    if block:
        out.append("\n")
    if node.tail:
        out.append(node.tail)
