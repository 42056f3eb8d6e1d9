"""Builders for REAL input files (PDF, DOCX, text) used by several test modules.

Every builder writes a file at ``path`` (parents created) and returns the ``Path``. Output is
deterministic: PDFs are written with ``invariant=1`` so the same call gives the same bytes.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

PAGE_MARGIN = 72  # points
LINE_HEIGHT = 18
FONT_SIZE = 11
CJK_FONT = "STSong-Light"
ZIP_BOMB_BYTES = 210 * 1024 * 1024  # more than nlp.extract.docx.MAX_UNCOMPRESSED_BYTES (200 MB)


SHARED_DIR = Path(__file__).resolve().parents[2] / "shared"


def shared_text_files() -> list[Path]:
    """The real report texts in ``/work/shared`` (eval-dev docs and seeds), sorted; [] when absent.

    Meant for ``pytest.mark.parametrize`` (ids: ``path.name``)."""
    files: list[Path] = []
    for folder in (SHARED_DIR / "eval-dev" / "docs", SHARED_DIR / "seeds"):
        if folder.is_dir():
            files.extend(sorted(folder.glob("*.txt")))
    return files


def _register_cjk_font() -> str:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    if CJK_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))
    return CJK_FONT


def _prepare(path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def wrap_paragraph(paragraph: str, wrap: int | None) -> list[str]:
    """Hard-wrap ``paragraph`` every ``wrap`` characters (the lines a PDF would draw).

    A last piece of a single character is kept on the line before (as typesetting keeps a
    closing "。" with its line): PDFium does not extract a text object holding one glyph of
    reportlab's non-embedded CID font, so a lone "。" line would silently vanish.
    """
    if not wrap or len(paragraph) <= wrap:
        return [paragraph]
    lines = [paragraph[i : i + wrap] for i in range(0, len(paragraph), wrap)]
    if len(lines) > 1 and len(lines[-1]) == 1:
        lines[-2] += lines.pop()
    return lines


def make_pdf(
    path: str | Path,
    pages: list[list[str]],
    *,
    header: str | None = None,
    page_numbers: bool = False,
    wrap: int | None = None,
) -> Path:
    """A4 PDF with a real text layer: each page a list of paragraphs drawn one line each.

    ``wrap=N`` hard-wraps every paragraph every N characters into separate drawn lines, so
    sentences break across lines as in real PDFs. ``header`` is drawn at the top of every page,
    ``page_numbers`` draws "- k -" at the bottom of page k.
    """
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    path = _prepare(path)
    font = _register_cjk_font()
    width, height = A4
    c = canvas.Canvas(str(path), pagesize=A4, invariant=1)
    for number, paragraphs in enumerate(pages, start=1):
        if header:
            c.setFont(font, 9)
            c.drawCentredString(width / 2, height - 40, header)
        c.setFont(font, FONT_SIZE)
        y = height - PAGE_MARGIN
        for paragraph in paragraphs:
            for line in wrap_paragraph(paragraph, wrap):
                c.drawString(PAGE_MARGIN, y, line)
                y -= LINE_HEIGHT
            y -= LINE_HEIGHT / 2  # paragraph gap
        if page_numbers:
            c.setFont(font, 9)
            c.drawCentredString(width / 2, 30, f"- {number} -")
        c.showPage()
    c.save()
    return path


def make_scanned_pdf(path: str | Path, pages: int = 2) -> Path:
    """A PDF whose pages hold only an embedded image and drawn shapes: no text layer at all."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    path = _prepare(path)
    width, height = A4
    c = canvas.Canvas(str(path), pagesize=A4, invariant=1)
    image = ImageReader(io.BytesIO(_tiny_png()))
    for _ in range(pages):
        c.drawImage(image, 60, height - 400, width=300, height=300)
        for k in range(12):  # grey bars standing in for scanned lines of text
            c.setFillGray(0.3)
            c.rect(60, height - 430 - k * 20, 400, 8, stroke=0, fill=1)
        c.showPage()
    c.save()
    return path


def _tiny_png(size: int = 8) -> bytes:
    """A valid grey ``size``x``size`` PNG, built without Pillow."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    raw = b"".join(b"\x00" + bytes([128] * size) for _ in range(size))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def make_encrypted_pdf(path: str | Path, user_password: str = "secret") -> Path:
    """A text PDF (from ``make_pdf``) encrypted with pypdf so it cannot be opened without a password."""
    from pypdf import PdfReader, PdfWriter

    path = _prepare(path)
    plain = path.with_name(path.stem + ".plain.pdf")
    make_pdf(plain, [["巡察发现的问题：一是党建工作不到位。"], ["二是财务管理不规范。"]])
    writer = PdfWriter()
    for page in PdfReader(plain).pages:
        writer.add_page(page)
    writer.encrypt(user_password=user_password, owner_password=user_password + "-owner", algorithm="AES-128")
    with path.open("wb") as fh:
        writer.write(fh)
    plain.unlink()
    return path


def make_docx(
    path: str | Path,
    paragraphs: list[str],
    *,
    numbered: list[str] | None = None,
    table: list[list[str]] | None = None,
    heading: str | None = None,
    table_after: int | None = None,
) -> Path:
    """A DOCX written by python-docx.

    Order: ``heading`` (style "Heading 1"), ``paragraphs``, then ``numbered`` items in style
    "List Number" (Word auto-numbering: the numbers are NOT in the text runs), then ``table``.
    ``table_after=k`` puts the table after the first k ``paragraphs`` (before the numbered items
    when k >= len(paragraphs)) instead of at the very end.
    """
    import docx

    path = _prepare(path)
    document = docx.Document()
    if heading is not None:
        document.add_heading(heading, level=1)

    def add_table() -> None:
        assert table is not None
        cols = max(len(row) for row in table)
        t = document.add_table(rows=len(table), cols=cols)
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                t.cell(r, c).text = value

    position = len(paragraphs) + 1 if table_after is None else min(table_after, len(paragraphs))
    for i, text in enumerate(paragraphs):
        if table and i == position:
            add_table()
        document.add_paragraph(text)
    if table and position == len(paragraphs):
        add_table()
    for item in numbered or []:
        document.add_paragraph(item, style="List Number")
    if table and position > len(paragraphs):
        add_table()
    document.save(str(path))
    return path


def make_paragraph_flood_docx(path: str | Path, paragraphs: int = 200_000) -> Path:
    """A small valid DOCX whose body is ``paragraphs`` one-character paragraphs (a few hundred KB
    zipped, tens of MB of XML): a file no office writes, made to hold a parser."""
    good = make_docx(Path(path).with_suffix(".seed.docx"), ["巡察发现的问题。"])
    body = "".join("<w:p><w:r><w:t>字</w:t></w:r></w:p>" for _ in range(paragraphs))
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(_prepare(path), "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "word/document.xml":
                xml = data.decode("utf-8")
                start = xml.index("<w:body>") + len("<w:body>")
                data = (xml[:start] + body + xml[start:]).encode("utf-8")
            out.writestr(info.filename, data)
    return Path(path)


def make_zip_bomb_docx(path: str | Path, inflated_bytes: int = ZIP_BOMB_BYTES) -> Path:
    """A DOCX-looking zip (word/document.xml present) with a member of zeros that inflates to
    ``inflated_bytes`` (default 210 MB) from a file of a few hundred KB. Written in chunks."""
    path = _prepare(path)
    chunk = bytes(1024 * 1024)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr("[Content_Types].xml", _CONTENT_TYPES)
        zf.writestr("_rels/.rels", _RELS)
        zf.writestr("word/document.xml", _DOCUMENT_XML)
        with zf.open("word/media/padding.bin", "w", force_zip64=True) as member:
            remaining = inflated_bytes
            while remaining > 0:
                n = min(len(chunk), remaining)
                member.write(chunk[:n])
                remaining -= n
    return path


def write_text(
    path: str | Path, text: str, encoding: str, bom: bool = False, newline: str = "\n"
) -> Path:
    """Write ``text`` encoded as ``encoding`` with "\\n" replaced by ``newline``.

    ``bom=True`` prepends the BOM of the encoding (utf-8, utf-16-le/-be, utf-32-le/-be); codecs that
    write their own BOM ("utf-16", "utf-8-sig") are used as they are.
    """
    import codecs

    path = _prepare(path)
    data = text.replace("\n", newline).encode(encoding)
    if bom:
        boms = {
            "utf-8": codecs.BOM_UTF8,
            "utf-16-le": codecs.BOM_UTF16_LE,
            "utf-16-be": codecs.BOM_UTF16_BE,
            "utf-32-le": codecs.BOM_UTF32_LE,
            "utf-32-be": codecs.BOM_UTF32_BE,
        }
        key = codecs.lookup(encoding).name
        if key not in boms:
            raise ValueError(f"no BOM known for {encoding!r}")
        data = boms[key] + data
    path.write_bytes(data)
    return path


_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
    "</Types>"
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="word/document.xml"/></Relationships>'
)
_DOCUMENT_XML = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
    "<w:body><w:p><w:r><w:t>巡察发现的问题</w:t></w:r></w:p></w:body></w:document>"
)
