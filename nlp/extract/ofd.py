"""OFD (GB/T 33190-2016) to text: the positioned text of every page, one line per physical line.

Government document systems (党政机关公文) export OFD, a ZIP package of XML files:
``OFD.xml`` -> each ``DocBody/DocRoot`` -> ``Document.xml`` -> ``Pages/Page@BaseLoc`` -> a page's
``Content.xml``, whose layers hold ``TextObject`` elements with ``TextCode`` runs placed at page
coordinates (millimetres, origin top left, Y growing downwards, Y of a TextCode is its baseline).
Nothing in the format says which run follows which: producers write runs in drawing order, split a
line into several objects and an object into several runs, and put the 页眉 header in a template page
drawn under every page. So the text is rebuilt from geometry, as a reader sees it: runs are grouped
into lines by baseline, lines sorted top to bottom and runs left to right. Normalisation
(``nlp.normalize``) then re-joins sentences wrapped over lines and drops repeated headers/footers.

Text set at an angle (a seal's ring of characters, a diagonal watermark) is left out of a page that
has horizontal text, since scattered into the body lines it would cut sentences apart.

Fonts and other resources (PublicRes.xml, DocumentRes.xml) are not opened: the characters are in the
TextCode elements, so a damaged font table must not cost the text. Annotations, attachments and
signatures (seals are images) are not read either.

Damage policy: a package that is not a ZIP, lacks OFD.xml or a Document.xml, or holds any XML that is
malformed or declares a DTD (the XXE / billion-laughs vector; OFD never needs one) is refused with
``CorruptOfdError``. A page whose Content.xml is absent is left empty and listed (1-based) in
``metadata["ofd_missing_pages"]``: some producers write no content file for a blank page, and one
lost page should not cost the other pages. When no page content is present at all the package is
refused. A missing or unknown template is skipped the same way (it only adds headers).
"""

from __future__ import annotations

import io
import math
import posixpath
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass
from typing import Any

from lxml import etree

from nlp.errors import CorruptDocxError, CorruptOfdError, DocxTooLargeError, OfdTooLargeError
from nlp.extract.docx import _check_archive
from nlp.model import ExtractedText, MediaType

MAX_PAGES = 2000
MAX_TEXT_OBJECTS_PER_PAGE = 50_000  # a dense A4 page drawn glyph by glyph has a few thousand
DEFAULT_FONT_SIZE = 3.5  # mm (about 10 pt), for a TextObject without a usable Size
LINE_TOLERANCE = 0.5  # runs whose baselines differ by less than this many font sizes share a line
ASCII_GAP = 0.2  # a gap wider than this many font sizes between ASCII runs is a word space
COLUMN_GAP = 4.0  # a gap this wide (font sizes) separates cells/columns, whatever the script
DUPLICATE_SHIFT = 0.25  # the same run drawn again this close is fake bold/shadow, not new text

_IDENTITY = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
_Matrix = tuple[float, float, float, float, float, float]


def _safe_parser() -> etree.XMLParser:
    """No network, no external or internal entity expansion, libxml2's size limits kept on."""
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False
    )


# ---------------------------------------------------------------- entry point


def extract_ofd(data: bytes, source: str) -> ExtractedText:
    """The text of each page of every document in the package (see the module docstring)."""
    _check_size(data, source)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError) as exc:
        raise CorruptOfdError("OFD 文件不是有效的 ZIP 压缩包，无法打开", source=source) from exc
    with archive:
        reader = _OfdReader(_Package(archive, source))
        pages = reader.read_pages()
    metadata: dict[str, Any] = {"ofd_pages": len(pages)}
    if reader.missing_pages:
        metadata["ofd_missing_pages"] = reader.missing_pages
    return ExtractedText(source=source, media_type=MediaType.OFD, pages=pages, backend="ofd", metadata=metadata)


def _check_size(data: bytes, source: str) -> None:
    """The DOCX zip-bomb limits (an OFD is a ZIP too), reported under OFD's own codes."""
    try:
        _check_archive(data, source)
    except DocxTooLargeError as exc:
        raise OfdTooLargeError(exc.message.replace("DOCX", "OFD"), source=source) from exc
    except CorruptDocxError as exc:
        raise CorruptOfdError("OFD 文件不是有效的 ZIP 压缩包，无法打开", source=source) from exc


# ---------------------------------------------------------------- the package


class _Package:
    """The ZIP members, found the way producers really write paths (any case, '\\', leading '/')."""

    def __init__(self, archive: zipfile.ZipFile, source: str) -> None:
        self.archive = archive
        self.source = source
        self.names = {_clean_path(n).lower(): n for n in archive.namelist() if not n.endswith("/")}

    def resolve(self, ref: str, folder: str) -> str | None:
        """The member ``ref`` names: '/x' from the package root, 'x' from ``folder`` (the folder of
        the file holding the reference) and, failing that, from the root, which some producers use."""
        ref = ref.strip().replace("\\", "/")
        if not ref:
            return None
        candidates = [ref] if ref.startswith("/") else [posixpath.join(folder, ref), ref]
        for candidate in candidates:
            found = self.names.get(_clean_path(candidate).lower())
            if found is not None:
                return found
        return None

    def xml(self, name: str) -> Any:
        """The root element of member ``name``; anything broken or DTD-bearing is CorruptOfdError."""
        try:
            raw = self.archive.read(name)
        except (zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError, OSError, EOFError) as exc:
            raise CorruptOfdError(f"OFD 文件中的 {name} 已损坏，无法解压", source=self.source) from exc
        try:
            root = etree.fromstring(raw, _safe_parser())
        except etree.XMLSyntaxError as exc:
            line = f"第 {exc.lineno} 行" if exc.lineno else ""
            raise CorruptOfdError(f"OFD 文件中的 {name} 不是有效的 XML{line}，文件已损坏", source=self.source) from exc
        except (ValueError, etree.LxmlError) as exc:
            raise CorruptOfdError(f"OFD 文件中的 {name} 无法解析，文件已损坏", source=self.source) from exc
        if root is None:
            raise CorruptOfdError(f"OFD 文件中的 {name} 是空的", source=self.source)
        docinfo = root.getroottree().docinfo
        if docinfo.doctype or docinfo.internalDTD is not None:
            raise CorruptOfdError(
                f"OFD 文件中的 {name} 含有 DTD/实体声明（OFD 不使用，可能是恶意构造），已拒绝", source=self.source
            )
        return root


def _clean_path(path: str) -> str:
    """'/Doc_0/./Pages\\P.xml' -> 'Doc_0/Pages/P.xml', the key members are looked up by."""
    cleaned = posixpath.normpath(path.replace("\\", "/").lstrip("/"))
    return "" if cleaned == "." else cleaned


# ---------------------------------------------------------------- XML helpers (local names)


def _local(node: Any) -> str:
    """An element's name without namespace or prefix, so ofd:, other prefixes and none all match.
    Comments, processing instructions and entity references have no string tag and match nothing."""
    tag = node.tag
    if not isinstance(tag, str):
        return ""
    return tag.rpartition("}")[2].rpartition(":")[2]


def _children(node: Any, name: str) -> list[Any]:
    return [child for child in node if _local(child) == name]


def _child(node: Any, name: str) -> Any | None:
    found = _children(node, name)
    return found[0] if found else None


def _descendants(node: Any, name: str) -> list[Any]:
    return [el for el in node.iter() if _local(el) == name]


def _attr(node: Any, name: str) -> str | None:
    """Attribute ``name`` whether written plain or (by some producers) with a namespace."""
    value = node.get(name)
    if value is not None:
        return str(value)
    for key, val in node.attrib.items():
        if str(key).rpartition("}")[2] == name:
            return str(val)
    return None


def _text(node: Any | None) -> str:
    return "".join(node.itertext()).strip() if node is not None else ""


def _numbers(value: str | None) -> list[float]:
    """Space-separated numbers; a malformed attribute gives [] (treated as absent), never an error."""
    if not value:
        return []
    try:
        numbers = [float(tok) for tok in value.replace(",", " ").split()]
    except ValueError:
        return []
    return numbers if all(math.isfinite(n) for n in numbers) else []


# ---------------------------------------------------------------- documents and pages


@dataclass(frozen=True)
class _PageRef:
    content: str | None  # member holding the page's Content.xml, None when absent
    base_loc: str  # the path as Document.xml writes it, for messages


class _OfdReader:
    """Walks OFD.xml -> documents -> pages, keeping the templates each document defines."""

    def __init__(self, package: _Package) -> None:
        self.package = package
        self.source = package.source
        self.missing_pages: list[int] = []
        self._template_runs: dict[str, list[_Run]] = {}
        self._first_missing = ""

    def read_pages(self) -> list[str]:
        pages: list[str] = []
        for document_name in self._document_names():
            folder = posixpath.dirname(document_name)
            document = self.package.xml(document_name)
            templates = self._templates(document, folder)
            refs = self._page_refs(document, folder)
            if len(pages) + len(refs) > MAX_PAGES:
                raise OfdTooLargeError(
                    f"OFD 文件页数超过上限 {MAX_PAGES} 页（至少 {len(pages) + len(refs)} 页），已拒绝", source=self.source
                )
            for ref in refs:
                pages.append(self._page_text(ref, templates, len(pages) + 1))
        if pages and len(self.missing_pages) == len(pages):
            raise CorruptOfdError(
                f"OFD 文件中找不到任何页面内容（各页的 Content.xml 均缺失，例如 {self._first_missing}）",
                source=self.source,
            )
        return pages

    def _document_names(self) -> list[str]:
        root_name = self.package.resolve("/OFD.xml", "")
        if root_name is None:
            raise CorruptOfdError("OFD 文件缺少入口文件 OFD.xml", source=self.source)
        ofd = self.package.xml(root_name)
        refs = [_text(_child(body, "DocRoot")) for body in _descendants(ofd, "DocBody")]
        refs = [ref for ref in refs if ref]
        if not refs:
            raise CorruptOfdError("OFD.xml 中没有 DocBody/DocRoot（文档入口），文件已损坏", source=self.source)
        names = []
        for ref in refs:
            name = self.package.resolve(ref, posixpath.dirname(root_name))
            if name is None:
                raise CorruptOfdError(f"OFD 文件缺少文档文件 {ref}（Document.xml）", source=self.source)
            names.append(name)
        return names

    def _templates(self, document: Any, folder: str) -> dict[str, str | None]:
        """TemplatePage ID -> its content member (None when the file is missing)."""
        common = _child(document, "CommonData")
        templates: dict[str, str | None] = {}
        for tpl in _children(common, "TemplatePage") if common is not None else []:
            tpl_id = _attr(tpl, "ID")
            if tpl_id:
                templates[tpl_id] = self.package.resolve(_attr(tpl, "BaseLoc") or "", folder)
        return templates

    def _page_refs(self, document: Any, folder: str) -> list[_PageRef]:
        pages = _child(document, "Pages")
        refs = []
        for page in _descendants(pages, "Page") if pages is not None else []:
            base_loc = _attr(page, "BaseLoc") or ""
            refs.append(_PageRef(self.package.resolve(base_loc, folder), base_loc))
        return refs

    def _page_text(self, ref: _PageRef, templates: dict[str, str | None], number: int) -> str:
        if ref.content is None:
            self.missing_pages.append(number)
            self._first_missing = self._first_missing or ref.base_loc or f"第 {number} 页"
            return ""
        page = self.package.xml(ref.content)
        runs: list[_Run] = []
        for template in _children(page, "Template"):
            runs.extend(self._runs_of_template(_attr(template, "TemplateID"), templates))
        objects = _descendants(page, "TextObject")
        if len(objects) + len(runs) > MAX_TEXT_OBJECTS_PER_PAGE:
            raise OfdTooLargeError(
                f"OFD 第 {number} 页的文字对象超过上限 {MAX_TEXT_OBJECTS_PER_PAGE} 个，已拒绝", source=self.source
            )
        for obj in objects:
            runs.extend(_object_runs(obj))
        return "\n".join(_layout(_reading_flow(runs)))

    def _runs_of_template(self, template_id: str | None, templates: dict[str, str | None]) -> list[_Run]:
        """A template's runs, parsed once: the same header sits under hundreds of pages."""
        content = templates.get(template_id or "")
        if content is None:
            return []
        if content not in self._template_runs:
            runs: list[_Run] = []
            for obj in _descendants(self.package.xml(content), "TextObject")[:MAX_TEXT_OBJECTS_PER_PAGE]:
                runs.extend(_object_runs(obj))
            self._template_runs[content] = runs
        return self._template_runs[content]


# ---------------------------------------------------------------- text objects -> runs


@dataclass(frozen=True)
class _Run:
    """Characters drawn on one baseline, in page coordinates (mm)."""

    x: float  # left edge (origin of the first glyph)
    y: float  # baseline
    end: float  # estimated right edge
    size: float  # font size on the page
    text: str
    rotated: bool = False  # drawn at an angle: a seal's ring of characters, a diagonal watermark


def _object_runs(obj: Any) -> list[_Run]:
    """The runs of a TextObject: each TextCode, split where its glyphs leave the baseline."""
    box = _numbers(_attr(obj, "Boundary"))
    origin = (box[0], box[1]) if len(box) >= 2 else (0.0, 0.0)
    ctm_values = _numbers(_attr(obj, "CTM"))
    ctm: _Matrix = tuple(ctm_values) if len(ctm_values) == 6 else _IDENTITY  # type: ignore[assignment]
    sizes = _numbers(_attr(obj, "Size"))
    size = sizes[0] if sizes and sizes[0] > 0 else DEFAULT_FONT_SIZE
    page_size = size * (math.sqrt(abs(ctm[0] * ctm[3] - ctm[1] * ctm[2])) or 1.0)
    x_scale = math.hypot(ctm[0], ctm[1]) or 1.0
    runs: list[_Run] = []
    cursor = (0.0, 0.0)  # where a TextCode without X/Y continues: after the previous one
    for code in _children(obj, "TextCode"):
        text = _clean_text(code.text or "")
        if not text:
            continue
        glyphs, cursor, vertical = _glyph_origins(code, text, size, cursor)
        placed = [_Glyph(*_apply(ctm, origin, gx, gy), adv * x_scale, ch) for gx, gy, adv, ch in glyphs]
        runs.extend(_split_runs(placed, page_size, vertical, _rotated(ctm)))
    return runs


def _rotated(ctm: _Matrix) -> bool:
    """Baseline turned more than ~10 degrees from horizontal (or upside down)."""
    return abs(math.atan2(ctm[1], ctm[0])) > math.radians(10)


@dataclass(frozen=True)
class _Glyph:
    x: float  # page coordinates of the glyph origin
    y: float
    advance: float  # page distance to the next glyph (estimated for the last one)
    char: str


def _clean_text(text: str) -> str:
    """Control characters (line breaks of a pretty-printed file, tabs) become spaces."""
    return "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in text)


def _glyph_origins(
    code: Any, text: str, size: float, cursor: tuple[float, float]
) -> tuple[list[tuple[float, float, float, str]], tuple[float, float], bool]:
    """(x, y, advance, character) of each character in object space, the point after the last one, and whether
    the code is written vertically (DeltaY steps without any DeltaX).

    DeltaX/DeltaY give the step from each glyph to the next; where DeltaX is missing or short the
    step is estimated from the character's width class (full width = one font size, otherwise half),
    since the font's metrics are not read."""
    xs, ys = _numbers(_attr(code, "X")), _numbers(_attr(code, "Y"))
    x = xs[0] if xs else cursor[0]
    y = ys[0] if ys else cursor[1]
    dxs = _deltas(_attr(code, "DeltaX"), len(text) - 1)
    dys = _deltas(_attr(code, "DeltaY"), len(text) - 1)
    vertical = any(dys) and not any(dxs)
    glyphs = []
    for i, ch in enumerate(text):
        advance = dxs[i] if i < len(dxs) else _estimated_advance(ch, text, dxs, i, size)
        glyphs.append((x, y, advance, ch))
        x += 0.0 if vertical else advance
        y += dys[i] if i < len(dys) else 0.0
    return glyphs, (x, y), vertical


def _deltas(value: str | None, needed: int) -> list[float]:
    """DeltaX/DeltaY values with the 'g n v' shorthand (n copies of v) expanded, at most ``needed``
    of them: a hostile 'g 1000000000 1' must not allocate a billion floats."""
    if not value or needed <= 0:
        return []
    tokens = value.replace(",", " ").split()
    out: list[float] = []
    i = 0
    try:
        while i < len(tokens) and len(out) < needed:
            if tokens[i] == "g" and i + 2 < len(tokens):
                count = max(0, min(int(float(tokens[i + 1])), needed - len(out)))
                out.extend([float(tokens[i + 2])] * count)
                i += 3
            else:
                out.append(float(tokens[i]))
                i += 1
    except (ValueError, OverflowError):
        pass  # keep the values read so far; the rest is estimated
    return [d if math.isfinite(d) else 0.0 for d in out]


def _estimated_advance(ch: str, text: str, dxs: list[float], i: int, size: float) -> float:
    """The advance of a glyph without a delta: the previous step when the previous character has the
    same width class (the producer's own metrics), else a width-class estimate."""
    if 0 < i <= len(dxs) and _wide(text[i - 1]) == _wide(ch) and dxs[i - 1] > 0:
        return dxs[i - 1]
    return size if _wide(ch) else size * 0.5


def _wide(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in ("W", "F")


def _apply(ctm: _Matrix, origin: tuple[float, float], x: float, y: float) -> tuple[float, float]:
    """Object space -> page: the CTM, then the Boundary's top-left corner."""
    a, b, c, d, e, f = ctm
    return origin[0] + a * x + c * y + e, origin[1] + b * x + d * y + f


def _split_runs(glyphs: list[_Glyph], size: float, vertical: bool, rotated: bool) -> list[_Run]:
    """Cut a TextCode's glyphs into runs that each keep one baseline and go rightwards.
    A vertical column or rotated text is one run: it reads along its own direction, kept whole."""
    whole = vertical or rotated
    runs: list[_Run] = []
    start = 0
    for i in range(1, len(glyphs) + 1):
        if i < len(glyphs) and (whole or not _breaks(glyphs[i - 1], glyphs[i], size)):
            continue
        first, last = glyphs[start], glyphs[i - 1]
        end = first.x + size if whole else last.x + last.advance
        text = "".join(g.char for g in glyphs[start:i])
        runs.append(_Run(first.x, first.y, max(end, first.x), size, text, rotated))
        start = i
    return runs


def _breaks(prev: _Glyph, cur: _Glyph, size: float) -> bool:
    return abs(cur.y - prev.y) > LINE_TOLERANCE * size or cur.x < prev.x - LINE_TOLERANCE * size


# ---------------------------------------------------------------- runs -> lines


def _reading_flow(runs: list[_Run]) -> list[_Run]:
    """Horizontal text only, when there is any: characters set at an angle are a seal's ring or a
    watermark, and scattered into the body lines they would cut sentences (and findings) apart.
    A page holding nothing but rotated text (a landscape table turned on the page) keeps it."""
    level = [run for run in runs if not run.rotated]
    return level or runs


def _layout(runs: list[_Run]) -> list[str]:
    """Lines of text top to bottom, each line's runs left to right."""
    lines: list[list[_Run]] = []
    for run in sorted(runs, key=lambda r: (r.y, r.x)):
        anchor = lines[-1][0] if lines else None
        if anchor is not None and run.y - anchor.y <= LINE_TOLERANCE * max(run.size, anchor.size):
            lines[-1].append(run)
        else:
            lines.append([run])
    return [_join_line(sorted(line, key=lambda r: r.x)) for line in lines]


def _join_line(runs: list[_Run]) -> str:
    """Runs of one line joined: abutting runs directly, a space between ASCII words with a visible
    gap (Chinese needs none, and Word's CJK/Latin auto-spacing is not a space) or across a gap as wide
    as a table column; a run repeated on top of itself (fake bold) is dropped."""
    parts: list[str] = []
    prev: _Run | None = None
    for run in runs:
        if prev is not None:
            if run.text == prev.text and abs(run.x - prev.x) < DUPLICATE_SHIFT * run.size:
                continue
            if _needs_space(prev, run):
                parts.append(" ")
        parts.append(run.text)
        prev = run
    return "".join(parts)


def _needs_space(prev: _Run, run: _Run) -> bool:
    if prev.text[-1].isspace() or run.text[0].isspace():
        return False
    gap = run.x - prev.end
    size = max(prev.size, run.size)
    if gap >= COLUMN_GAP * size:
        return True
    return gap > ASCII_GAP * size and _ascii_word_char(prev.text[-1]) and _ascii_word_char(run.text[0])


def _ascii_word_char(ch: str) -> bool:
    return ch.isascii() and ch.isprintable() and not ch.isspace()
