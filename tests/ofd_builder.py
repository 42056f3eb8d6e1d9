"""Builders for REAL OFD packages (GB/T 33190-2016) used by the OFD tests.

A package is a ZIP laid out as the standard's own examples and common producers (数科, 福昕) write it:

    OFD.xml                               DocBody/DocInfo + DocRoot -> Doc_0/Document.xml
    Doc_0/Document.xml                    CommonData (PageArea, PublicRes, TemplatePage) + Pages
    Doc_0/PublicRes.xml                   Res with the Font the text objects name
    Doc_0/Tpls/Tpl_0/Content.xml          the template page (a 页眉 header drawn under every page)
    Doc_0/Pages/Page_N/Content.xml        Page/Template + Page/Content/Layer/TextObject/TextCode

Coordinates are millimetres on an A4 page, origin top left, Y downwards; a TextCode's Y is its
baseline. Elements are written in the OFD namespace with prefix ``ofd:`` unless ``prefix`` says
otherwise (another prefix, or ``None`` for no namespace at all). Output is deterministic.
"""

from __future__ import annotations

import math
import unicodedata
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from builders import ZIP_BOMB_BYTES
from lxml import etree

OFD_NS = "http://www.ofdspec.org/2016"
PAGE_WIDTH, PAGE_HEIGHT = 210.0, 297.0
FONT_ID = "3"
TEMPLATE_ID = "2"
BODY_SIZE = 4.2  # mm, about 12 pt: a 30-character line is 126 mm wide
LINE_PITCH = 7.5  # mm between baselines
LEFT, TOP = 25.0, 40.0  # first baseline of the body
HEADER_Y = 18.0
FOOTER_Y = 280.0


@dataclass(frozen=True)
class Text:
    """One TextObject: ``text`` drawn with its baseline starting at page point (``x``, ``y``).

    ``runs`` splits the text into that many TextCode children (each with its own X); ``delta_x``
    writes the glyph steps (with the 'g n v' shorthand where steps repeat); ``scale`` draws through a
    CTM (the Size shrinks by the same factor, so the page size stays ``size``) and ``rotate`` turns
    the baseline that many degrees clockwise on the page (seals, watermarks); ``in_block`` nests the
    object in a PageBlock; ``layer`` is the Layer Type (Body, Background, Foreground)."""

    text: str
    x: float
    y: float
    size: float = BODY_SIZE
    runs: int = 1
    delta_x: bool = True
    scale: float = 1.0
    rotate: float = 0.0
    in_block: bool = False
    layer: str = "Body"


def advance(ch: str, size: float) -> float:
    """Glyph step of a monospaced CJK font: one size for full-width characters, half otherwise."""
    return size if unicodedata.east_asian_width(ch) in ("W", "F") else size / 2


def text_width(text: str, size: float = BODY_SIZE) -> float:
    return sum(advance(ch, size) for ch in text)


class _Xml:
    """Elements named in the OFD namespace under ``prefix`` (None: no namespace)."""

    def __init__(self, prefix: str | None) -> None:
        self.prefix = prefix

    def root(self, name: str, **attrs: str) -> etree._Element:
        if self.prefix is None:
            return etree.Element(name, attrs)
        return etree.Element(f"{{{OFD_NS}}}{name}", attrs, nsmap={self.prefix: OFD_NS})

    def sub(self, parent: etree._Element, name: str, text: str | None = None, **attrs: str) -> etree._Element:
        tag = name if self.prefix is None else f"{{{OFD_NS}}}{name}"
        node = etree.SubElement(parent, tag, attrs)
        if text is not None:
            node.text = text
        return node


def _xml_bytes(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _num(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".") or "0"


def delta_x(steps: Sequence[float]) -> str:
    """DeltaX text: runs of 3+ equal steps as 'g n v', others listed ("g 4 4.2 2.1 4.2")."""
    out: list[str] = []
    i = 0
    while i < len(steps):
        j = i
        while j < len(steps) and steps[j] == steps[i]:
            j += 1
        if j - i >= 3:
            out.append(f"g {j - i} {_num(steps[i])}")
        else:
            out.extend(_num(s) for s in steps[i:j])
        i = j
    return " ".join(out)


def _split(text: str, runs: int) -> list[str]:
    size = max(1, -(-len(text) // max(1, runs)))
    return [text[i : i + size] for i in range(0, len(text), size)] or [text]


class _Ids:
    def __init__(self) -> None:
        self.last = 10

    def next(self) -> str:
        self.last += 1
        return str(self.last)


def _ctm(scale: float, degrees: float) -> str:
    """Scale then rotate (Y points down, so a positive angle turns the baseline clockwise)."""
    cos, sin = math.cos(math.radians(degrees)) * scale, math.sin(math.radians(degrees)) * scale
    return " ".join(_num(v) for v in (cos, sin, -sin, cos, 0, 0))


def _text_object(xml: _Xml, parent: etree._Element, item: Text, ids: _Ids) -> None:
    size = item.size / item.scale  # object space
    width, height = text_width(item.text, item.size), item.size * 1.3
    attrs = {
        "ID": ids.next(),
        "Boundary": " ".join(_num(v) for v in (item.x, item.y - item.size, width + 1, height)),
        "Font": FONT_ID,
        "Size": _num(size),
    }
    if item.scale != 1.0 or item.rotate:
        attrs["CTM"] = _ctm(item.scale, item.rotate)
    obj = xml.sub(parent, "TextObject", **attrs)
    xml.sub(obj, "FillColor", Value="0 0 0")
    x = 0.0
    for piece in _split(item.text, item.runs):
        steps = [advance(ch, size) for ch in piece]
        code_attrs = {"X": _num(x), "Y": _num(size)}
        if item.delta_x and len(piece) > 1:
            code_attrs["DeltaX"] = delta_x(steps[:-1])
        xml.sub(obj, "TextCode", piece, **code_attrs)
        x += sum(steps)


def _content(xml: _Xml, texts: Iterable[Text], ids: _Ids, template: bool) -> bytes:
    """A page (or template page) Content.xml: templates first, then one Layer per Type used."""
    page = xml.root("Page")
    if template:
        xml.sub(page, "Template", TemplateID=TEMPLATE_ID, ZOrder="Background")
    content = xml.sub(page, "Content")
    layers: dict[str, etree._Element] = {}
    for item in texts:
        if item.layer not in layers:
            layers[item.layer] = xml.sub(content, "Layer", ID=ids.next(), Type=item.layer)
        parent = layers[item.layer]
        if item.in_block:
            parent = xml.sub(parent, "PageBlock", ID=ids.next())
        _text_object(xml, parent, item, ids)
    return _xml_bytes(page)


def build_ofd(
    pages: Sequence[Sequence[Text]],
    *,
    template: Sequence[Text] | None = None,
    prefix: str | None = "ofd",
    absolute_paths: bool = False,
    omit: Iterable[str] = (),
    overrides: dict[str, bytes] | None = None,
    title: str = "巡察反馈情况",
) -> bytes:
    """The bytes of an OFD package with one document of ``pages``.

    ``template`` texts go into a TemplatePage used (ZOrder Background) by every page. ``absolute_paths``
    writes BaseLoc as '/Doc_0/…' instead of relative to Document.xml. ``omit`` leaves members out and
    ``overrides`` replaces members' bytes (damaged packages for the error tests)."""
    xml, ids = _Xml(prefix), _Ids()
    members: dict[str, bytes] = {"OFD.xml": _ofd_xml(xml, title)}
    members["Doc_0/PublicRes.xml"] = _public_res(xml)
    loc = "/Doc_0/" if absolute_paths else ""
    document = xml.root("Document")
    common = xml.sub(document, "CommonData")
    xml.sub(common, "MaxUnitID", "9999")
    area = xml.sub(common, "PageArea")
    xml.sub(area, "PhysicalBox", f"0 0 {_num(PAGE_WIDTH)} {_num(PAGE_HEIGHT)}")
    xml.sub(common, "PublicRes", "PublicRes.xml")
    if template is not None:
        xml.sub(common, "TemplatePage", ID=TEMPLATE_ID, BaseLoc=f"{loc}Tpls/Tpl_0/Content.xml", ZOrder="Background")
        members["Doc_0/Tpls/Tpl_0/Content.xml"] = _content(xml, template, ids, template=False)
    pages_node = xml.sub(document, "Pages")
    for number, texts in enumerate(pages):
        xml.sub(pages_node, "Page", ID=ids.next(), BaseLoc=f"{loc}Pages/Page_{number}/Content.xml")
        members[f"Doc_0/Pages/Page_{number}/Content.xml"] = _content(xml, texts, ids, template is not None)
    members["Doc_0/Document.xml"] = _xml_bytes(document)
    members.update(overrides or {})
    for name in omit:
        members.pop(name, None)
    return _zip(members)


def _ofd_xml(xml: _Xml, title: str) -> bytes:
    ofd = xml.root("OFD", Version="1.0", DocType="OFD")
    body = xml.sub(ofd, "DocBody")
    info = xml.sub(body, "DocInfo")
    xml.sub(info, "DocID", "6f0d0b1f2a3c4d5e6f708192a3b4c5d6")
    xml.sub(info, "Title", title)
    xml.sub(info, "CreationDate", "2023-06-10")
    xml.sub(body, "DocRoot", "Doc_0/Document.xml")
    return _xml_bytes(ofd)


def _public_res(xml: _Xml) -> bytes:
    res = xml.root("Res", BaseLoc="Res")
    fonts = xml.sub(res, "Fonts")
    xml.sub(fonts, "Font", ID=FONT_ID, FontName="宋体", FamilyName="宋体")
    return _xml_bytes(res)


def _zip(members: dict[str, bytes]) -> bytes:
    import io

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=(2023, 6, 10, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return buffer.getvalue()


def lay_out(
    paragraphs: Sequence[str], *, wrap: int = 30, lines_per_page: int = 30, page_numbers: bool = False
) -> list[list[Text]]:
    """Paragraphs hard-wrapped every ``wrap`` characters, one TextObject per line, ``lines_per_page``
    lines to a page (a paragraph may continue on the next page), "- k -" at the foot when asked."""
    lines = [paragraph[i : i + wrap] for paragraph in paragraphs for i in range(0, len(paragraph), wrap)]
    pages: list[list[Text]] = []
    for start in range(0, max(1, len(lines)), lines_per_page):
        chunk = lines[start : start + lines_per_page]
        texts = [Text(line, LEFT, TOP + i * LINE_PITCH) for i, line in enumerate(chunk)]
        if page_numbers:
            label = f"- {len(pages) + 1} -"
            texts.append(Text(label, (PAGE_WIDTH - text_width(label, 3.5)) / 2, FOOTER_Y, size=3.5))
        pages.append(texts)
    return pages


def header_template(header: str) -> list[Text]:
    """A centred 页眉 line, for ``build_ofd(template=…)``."""
    return [Text(header, (PAGE_WIDTH - text_width(header, 3.5)) / 2, HEADER_Y, size=3.5, layer="Background")]


def make_ofd(
    path: str | Path,
    pages: Sequence[Sequence[str]],
    *,
    header: str | None = None,
    wrap: int | None = None,
    page_numbers: bool = False,
    **options: object,
) -> Path:
    """An OFD file, like ``builders.make_pdf``: each page a list of paragraphs, hard-wrapped every
    ``wrap`` characters when given; ``header`` on a template page under every page."""
    laid: list[list[Text]] = []
    for number, paragraphs in enumerate(pages, start=1):
        page = lay_out(paragraphs, wrap=wrap or 10_000, lines_per_page=10_000)[0]
        if page_numbers:
            label = f"- {number} -"
            page.append(Text(label, (PAGE_WIDTH - text_width(label, 3.5)) / 2, FOOTER_Y, size=3.5))
        laid.append(page)
    template = header_template(header) if header else None
    return write_ofd(path, build_ofd(laid, template=template, **options))  # type: ignore[arg-type]


def write_ofd(path: str | Path, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def make_zip_bomb_ofd(path: str | Path, inflated_bytes: int = ZIP_BOMB_BYTES) -> Path:
    """A valid small OFD plus a member of zeros inflating to ``inflated_bytes`` (default 210 MB, over
    the 200 MB limit) from a file of a few hundred KB. Written in chunks, never held in memory."""
    path = write_ofd(path, build_ofd([[Text("巡察发现的问题", LEFT, TOP)]]))
    chunk = bytes(1024 * 1024)
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        with zf.open("Doc_0/Res/padding.bin", "w", force_zip64=True) as member:
            remaining = inflated_bytes
            while remaining > 0:
                member.write(chunk[: min(len(chunk), remaining)])
                remaining -= len(chunk)
    return path
