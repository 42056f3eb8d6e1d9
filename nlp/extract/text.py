"""Decode plain text (TXT/MD) in the encodings Chinese offices actually produce.

Order matters: a BOM is decisive; then strict UTF-8 (which almost never decodes GBK bytes by
accident); then UTF-16 without a BOM; then GB18030, the superset of GBK/GB2312. A decode is accepted
only if the result is plausible text, so binary junk never comes out as mojibake.
"""

from __future__ import annotations

import codecs

from nlp.errors import UnknownEncodingError
from nlp.extract.sniff import _utf16_without_bom

_BOMS: list[tuple[bytes, str]] = [
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
]


def decode_text(data: bytes, source: str | None = None) -> tuple[str, str]:
    """Return ``(text, encoding)``; raise UnknownEncodingError when no encoding gives plausible text."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return _clean(data.decode(encoding)), encoding
            except UnicodeDecodeError as exc:
                raise UnknownEncodingError(
                    f"文件声明为 {encoding.upper()} 编码（带 BOM），但内容无法按此编码解码", source=source
                ) from exc
    candidates = ["utf-8"]
    if b"\x00" in data[:4096] and _utf16_without_bom(data[:4096]):
        candidates = ["utf-16-le", "utf-16-be", *candidates]
    candidates.append("gb18030")
    for encoding in candidates:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if plausibility(text) >= 0.97:
            if encoding == "gb18030" and not _common_hanzi(text):
                raise UnknownEncodingError(
                    "文本不像 GBK/GB18030 编码：按此解码后几乎全是生僻字（疑似日文 Shift-JIS 等其他编码），请另存为 UTF-8",
                    source=source,
                )
            return _clean(text), "gbk" if encoding == "gb18030" and _is_gbk(data) else encoding
    raise UnknownEncodingError(source=source)


def _common_hanzi(text: str, minimum: int = 10) -> bool:
    """Whether the ideographs of a GB18030 decode are mostly GB2312 ones, as in any Chinese report.

    Shift-JIS bytes also decode as GBK, into text that passes ``plausibility`` but is made of rare
    characters (日本語 -> 擔杮岅): none of them in GB2312, against over 99 % in real reports.
    """
    ideographs = [ch for ch in text[:20000] if "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf"]
    if len(ideographs) < minimum:
        return True
    common = 0
    for ch in ideographs:
        try:
            ch.encode("gb2312")
        except UnicodeEncodeError:
            continue
        common += 1
    return common >= 0.5 * len(ideographs)


def _is_gbk(data: bytes) -> bool:
    try:
        data.decode("gbk")
    except UnicodeDecodeError:
        return False
    return True


def plausibility(text: str) -> float:
    """Share of characters a Chinese report plausibly contains (CJK, ASCII, CJK/full-width punctuation)."""
    if not text:
        return 0.0
    sample = text[:20000]
    good = 0
    for ch in sample:
        o = ord(ch)
        if (
            0x20 <= o < 0x7F
            or ch in "\n\r\t\f"
            or 0x4E00 <= o <= 0x9FFF  # CJK unified ideographs
            or 0x3000 <= o <= 0x303F  # CJK symbols and punctuation
            or 0xFF00 <= o <= 0xFFEF  # full-width forms
            or 0x2000 <= o <= 0x206F  # general punctuation (“”…—)
            or 0x3400 <= o <= 0x4DBF  # extension A
            or 0x2460 <= o <= 0x24FF  # enclosed numerals ①
            or 0x00A0 <= o <= 0x00FF  # Latin-1 (·, ×, °)
            or 0x0100 <= o <= 0x024F  # Latin Extended-A/B: pinyin tone marks, 區(qū)委 in mirror copies
            or 0x2150 <= o <= 0x218F  # number forms Ⅰ Ⅱ
            or 0x25A0 <= o <= 0x25FF  # geometric shapes ■ ●
            or 0x2190 <= o <= 0x21FF  # arrows
            or 0x0391 <= o <= 0x03C9  # Greek
            or 0x2E80 <= o <= 0x2FDF  # radicals
            or 0xFE30 <= o <= 0xFE4F  # CJK compatibility forms
            or 0x20000 <= o <= 0x2FA1F  # extensions B+
        ):
            good += 1
    return good / len(sample)


def _clean(text: str) -> str:
    """Unify line endings and drop NULs/BOMs that survive some exports."""
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "").replace("\ufeff", "")
