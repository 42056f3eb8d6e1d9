"""Chinese numerals to numbers (十二轮, 一千八百三十二, 两万, 〇, 九十八点一四).

Used for round numbers (``nlp/structure.py``) and by the statistics extractor (``nlp/stats``); kept
separate because both need exactly the same reading of 十/百/千/万/亿.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

_DIGITS = {"零": 0, "〇": 0, "○": 0, "一": 1, "壹": 1, "二": 2, "贰": 2, "两": 2, "三": 3, "叁": 3, "四": 4,
           "肆": 4, "五": 5, "伍": 5, "六": 6, "陆": 6, "七": 7, "柒": 7, "八": 8, "捌": 8, "九": 9, "玖": 9}
_UNITS = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
_BIG = {"万": 10_000, "亿": 100_000_000}
CN_NUMERAL_CHARS = "".join(_DIGITS) + "".join(_UNITS) + "".join(_BIG)
CN_DIGIT_CHARS = "".join(_DIGITS)


def cn_to_int(text: str) -> int:
    """Read a Chinese (or Arabic) integer; raise ValueError for anything else.

    Handles positional forms (一八三二, 二〇二四) and multiplicative forms (一千八百三十二, 十二, 两万三千).
    """
    text = text.strip()
    if not text:
        raise ValueError("empty numeral")
    if text.isdigit():
        return int(text)
    if all(ch in _DIGITS for ch in text):
        return int("".join(str(_DIGITS[ch]) for ch in text))
    total = 0  # completed 亿/万 groups
    section = 0  # value below the current 万
    digit: int | None = None
    for ch in text:
        if ch in _DIGITS:
            digit = _DIGITS[ch]
        elif ch in _UNITS:
            section += (1 if digit is None else digit) * _UNITS[ch]
            digit = None
        elif ch in _BIG:
            section += digit or 0
            big = _BIG[ch]
            if big == 100_000_000:
                total = (total + section) * big
            else:
                total += section * big
            section, digit = 0, None
        elif ch.isdigit():
            digit = (digit or 0) * 10 + int(ch)
        else:
            raise ValueError(f"not a numeral: {text!r}")
    return total + section + (digit or 0)


def parse_int(text: str) -> int | None:
    try:
        return cn_to_int(text)
    except ValueError:
        return None


def to_decimal(text: str) -> Decimal:
    """Read an Arabic or Chinese number, with decimals, as an exact ``Decimal``; raise ValueError.

    "1,832" → 1832, "2.67" → 2.67, "九十八点一四" → 98.14, "两万" → 20000, "2.5万" → 25000.
    Decimal (not float) so that 66.57万 is exactly 665700.
    """
    text = text.strip().replace(",", "")
    if not text:
        raise ValueError("empty number")
    scale = 1
    while text and text[-1] in _BIG and not all(ch in CN_NUMERAL_CHARS for ch in text):
        scale *= _BIG[text[-1]]  # Arabic digits with a Chinese scale: 2.5万, 3亿
        text = text[:-1]
    try:
        return Decimal(text) * scale
    except InvalidOperation:
        pass
    whole, _, frac = text.partition("点")
    value = Decimal(cn_to_int(whole)) if whole else Decimal(0)
    if frac:
        if not all(ch in _DIGITS for ch in frac):
            raise ValueError(f"not a numeral: {text!r}")
        value += Decimal("0." + "".join(str(_DIGITS[ch]) for ch in frac))
    return value * scale


def plain_number(value: Decimal) -> int | float:
    """An ``int`` when the value is whole (25000), else a ``float`` (98.14)."""
    return int(value) if value == value.to_integral_value() else float(value)
