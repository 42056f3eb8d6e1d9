"""Decide a file's type from its bytes, never from its name.

Inspection offices rename files freely (报告.pdf that is really a DOCX, .txt exports that are HTML),
so the extension is at most a hint for the error message.
"""

from __future__ import annotations

import io
import re
import zipfile

from nlp.errors import EmptyFileError, UnsupportedTypeError
from nlp.model import MediaType

_HTML_START = re.compile(
    rb"^\s*(<\?xml[^>]*\?>\s*)?(<!--.*?-->\s*)*<(!doctype\s+html|html|head|body|meta|div|p|table)[\s>/]", re.I | re.S
)

# Image signatures: page photos and scans, read by OCR.
_IMAGE_SIGNATURES: tuple[bytes, ...] = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"II*\x00", b"MM\x00*", b"BM", b"GIF8")
# OLE2 compound files: Word 97 .doc and WPS .wps (converted by LibreOffice), but also .xls/.ppt.
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

# Signatures of formats people try to upload that we cannot read, with the hint we give them.
_KNOWN_BINARIES: list[tuple[bytes, str]] = [
    (b"Rar!", "压缩包（RAR）请先解压"),
    (b"7z\xbc\xaf\x27\x1c", "压缩包（7z）请先解压"),
    (b"\x1f\x8b", "压缩包（gzip）请先解压"),
    (b"\x7fELF", "可执行文件不是报告"),
    (b"MZ", "可执行文件不是报告"),
]


def sniff_media_type(data: bytes, name: str | None = None) -> MediaType:
    """Return the media type of ``data`` or raise a typed error that says what the file is."""
    if not data or not data.strip(b" \t\r\n\x00\xef\xbb\xbf\xff\xfe"):
        raise EmptyFileError(source=name)
    head = data[:1024]
    if b"%PDF-" in head:
        return MediaType.PDF
    if data.startswith(b"PK\x03\x04") or data.startswith(b"PK\x05\x06"):
        return _sniff_zip(data, name)
    if data.startswith(_IMAGE_SIGNATURES):
        return MediaType.IMAGE
    if data.startswith(_OLE2):
        return _sniff_ole2(data, name)
    if data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{\\rtf"):
        return MediaType.DOC
    for signature, hint in _KNOWN_BINARIES:
        if data.startswith(signature):
            raise UnsupportedTypeError(f"不支持的文件类型：{hint}", source=name)
    if _looks_like_html(head):
        return MediaType.HTML
    if _looks_binary(head):
        raise UnsupportedTypeError(
            "不支持的文件类型：二进制文件，既不是 PDF/DOCX/OFD/图片，也不是文本", source=name
        )
    return MediaType.TEXT


def _sniff_zip(data: bytes, name: str | None) -> MediaType:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = set(zf.namelist())
    except (zipfile.BadZipFile, ValueError) as exc:
        from nlp.errors import CorruptDocxError

        raise CorruptDocxError("文件是损坏的 ZIP/DOCX 压缩包，无法打开", source=name) from exc
    if "word/document.xml" in names:
        return MediaType.DOCX
    if "OFD.xml" in names or "ofd.xml" in {n.lower() for n in names}:
        return MediaType.OFD
    if "xl/workbook.xml" in names:
        raise UnsupportedTypeError("不支持的文件类型：Excel 表格（XLSX），请导出为文本或 DOCX", source=name)
    if "ppt/presentation.xml" in names:
        raise UnsupportedTypeError("不支持的文件类型：PowerPoint 演示文稿（PPTX）", source=name)
    if "mimetype" in names and "content.xml" in names:
        raise UnsupportedTypeError("不支持的文件类型：OpenDocument（ODT），请另存为 DOCX", source=name)
    raise UnsupportedTypeError("不支持的文件类型：ZIP 压缩包，请先解压", source=name)


def _sniff_ole2(data: bytes, name: str | None) -> MediaType:
    """An OLE2 file is a word-processor document unless its directory names a workbook or a deck.

    Directory entries hold stream names in UTF-16LE; Word 97 and WPS Office write ``WordDocument``,
    Excel ``Workbook``/``Book``, PowerPoint ``PowerPoint Document``. Old Kingsoft .wps files name their
    streams otherwise; LibreOffice's own import decides for those (and says so when it cannot).
    """
    def has(stream: str) -> bool:
        return stream.encode("utf-16-le") in data

    if has("WordDocument"):
        return MediaType.DOC
    if has("Workbook") or has("Book\x00"):
        raise UnsupportedTypeError("不支持的文件类型：旧版 Excel 表格（.xls），请导出为文本或 DOCX", source=name)
    if has("PowerPoint Document"):
        raise UnsupportedTypeError("不支持的文件类型：旧版 PowerPoint 演示文稿（.ppt）", source=name)
    return MediaType.DOC


def _looks_like_html(head: bytes) -> bool:
    probe = head.lstrip(b"\xef\xbb\xbf")
    if probe.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            probe = probe.decode("utf-16").encode("utf-8")
        except UnicodeDecodeError:
            return False
    return bool(_HTML_START.match(probe))


def _looks_binary(head: bytes) -> bool:
    """Control bytes other than whitespace mean binary, unless the text is UTF-16/32 (NUL-rich)."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf")):
        return False
    nul = head.count(b"\x00")
    if nul and _utf16_without_bom(head):
        return False
    controls = sum(1 for b in head if b < 9 or 13 < b < 32 and b != 27)
    return controls > max(2, len(head) // 50)


def _utf16_without_bom(head: bytes) -> bool:
    """UTF-16 text without a BOM has NULs in (nearly) all even or all odd positions for ASCII."""
    even = head[0::2].count(b"\x00")
    odd = head[1::2].count(b"\x00")
    half = max(1, len(head) // 2)
    return (even > 0.3 * half and odd < 0.05 * half) or (odd > 0.3 * half and even < 0.05 * half) or (
        _decodes_as_utf16_cjk(head)
    )


def _decodes_as_utf16_cjk(head: bytes) -> bool:
    for enc in ("utf-16-le", "utf-16-be"):
        try:
            text = head[: len(head) // 2 * 2].decode(enc)
        except UnicodeDecodeError:
            continue
        cjk = sum(1 for ch in text if "\u4e00" <= ch <= "\u9fff" or ch in "，。：；、")
        if text and cjk / len(text) > 0.5:
            return True
    return False
