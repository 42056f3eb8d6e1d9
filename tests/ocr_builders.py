"""Builders for REAL OCR inputs: Chinese report text rendered to page images, scans and scanned PDFs.

Pages are drawn with the Noto CJK font (Debian package ``fonts-noto-cjk``) at a real resolution and
then degraded the way a scanner or a phone degrades them (slight rotation, speckle noise, JPEG
artefacts), so OCR is tested on what offices actually upload, not on clean synthetic bitmaps.
Everything is deterministic: noise comes from a seeded generator. Used by tests/test_extract_ocr.py
and evaluation/bench_ocr.py.
"""

from __future__ import annotations

import io
import math
import shutil
import subprocess
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

MM_PER_INCH = 25.4
A4_MM = (210.0, 297.0)
A5_MM = (148.0, 210.0)
RED = (210, 30, 35)
_FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
)
# Index of each face inside the Noto CJK collections. SC draws Simplified glyph shapes; TC draws
# Traditional characters as a Taiwan or Hong Kong office's documents show them.
_FACE_INDEX = {"JP": 0, "KR": 1, "SC": 2, "TC": 3, "HK": 4}


@lru_cache(maxsize=1)
def cjk_font_path() -> str | None:
    """The Noto CJK font file, found by fontconfig or at Debian's paths; None when not installed."""
    if shutil.which("fc-match"):
        for family in ("Noto Serif CJK SC", "Noto Sans CJK SC"):
            found = subprocess.run(
                ["fc-match", "-f", "%{file}", family], capture_output=True, text=True, check=False
            ).stdout.strip()
            if "CJK" in found and Path(found).is_file():
                return found
    return next((p for p in _FONT_CANDIDATES if Path(p).is_file()), None)


@lru_cache(maxsize=32)
def _font(size_px: int, face: str = "SC") -> ImageFont.FreeTypeFont:
    path = cjk_font_path()
    if path is None:
        raise RuntimeError("Noto CJK font not installed (Debian package fonts-noto-cjk)")
    try:
        return ImageFont.truetype(path, size_px, index=_FACE_INDEX[face])
    except OSError:
        return ImageFont.truetype(path, size_px)


def px(mm: float, dpi: int) -> int:
    return round(mm / MM_PER_INCH * dpi)


def report_body(path: Path) -> str:
    """The text of a shared eval file without its SOURCE:/DATE: lines (what the page would show)."""
    lines = path.read_text(encoding="utf-8").split("\n")
    while lines and (lines[0].startswith("SOURCE:") or lines[0].startswith("DATE:")):
        lines.pop(0)
    return "\n".join(line.strip() for line in lines if line.strip())


@dataclass
class PageStyle:
    """How a page is laid out: paper size, resolution and type size (defaults: A5 at 200 dpi, 12 pt),
    and the font face of the text ("SC", or "TC" for a Traditional-script page)."""

    size_mm: tuple[float, float] = A5_MM
    dpi: int = 200
    font_pt: float = 12.0
    margin_mm: float = 15.0
    line_spacing: float = 1.55
    columns: int = 1
    gutter_mm: float = 10.0
    face: str = "SC"


# Chinese line breaking (禁则): a line never starts with closing punctuation, never ends with opening.
_NO_LINE_START = set("，。、；：？！”’）》」』,.;:?!)%")
_NO_LINE_END = set("“‘（《「『(")


def _wrap(paragraph: str, font: ImageFont.FreeTypeFont, width: int, indent: str) -> list[str]:
    """Break one paragraph into lines about ``width`` pixels wide (first line indented two ems), as a
    typesetter does: closing punctuation stays on the line it closes (hanging into the margin), an
    opening quote or bracket moves down with the word it opens."""
    lines, line = [], indent
    for ch in paragraph:
        if line.strip() and font.getlength(line + ch) > width and ch not in _NO_LINE_START:
            carry = ""
            while line and line[-1] in _NO_LINE_END:
                carry, line = line[-1] + carry, line[:-1]
            lines.append(line)
            line = carry
        line += ch
    if line.strip():
        lines.append(line)
    return lines


def layout_lines(paragraphs: Sequence[str], style: PageStyle) -> list[str]:
    """The physical lines the text occupies in one column of ``style`` (for checks and page breaking)."""
    font = _font(round(style.font_pt / 72 * style.dpi), style.face)
    return [ln for p in paragraphs for ln in _wrap(p, font, _column_width(style), "\u3000\u3000")]


def fitted(paragraphs: Sequence[str], style: PageStyle, *, extra_mm: float = 0.0) -> PageStyle:
    """``style`` with the page just tall enough for ``paragraphs`` (plus ``extra_mm`` for a masthead,
    title or seal): a half page of text costs OCR half a page of detection."""
    font_px = round(style.font_pt / 72 * style.dpi)
    rows = math.ceil(len(layout_lines(paragraphs, style)) / style.columns)
    text_mm = rows * font_px * style.line_spacing / style.dpi * MM_PER_INCH
    height = text_mm + 2 * style.margin_mm + extra_mm + 5
    return PageStyle(
        size_mm=(style.size_mm[0], height),
        dpi=style.dpi,
        font_pt=style.font_pt,
        margin_mm=style.margin_mm,
        line_spacing=style.line_spacing,
        columns=style.columns,
        gutter_mm=style.gutter_mm,
        face=style.face,
    )


def _column_width(style: PageStyle) -> int:
    text_w = px(style.size_mm[0] - 2 * style.margin_mm, style.dpi)
    gutter = px(style.gutter_mm, style.dpi)
    return (text_w - gutter * (style.columns - 1)) // style.columns


def render_page(
    paragraphs: Sequence[str],
    style: PageStyle | None = None,
    *,
    masthead: str | None = None,
    seal: str | None = None,
    page_number: str | None = None,
    title: str | None = None,
) -> Image.Image:
    """An RGB page image of ``paragraphs`` (one column, or ``style.columns`` read top to bottom).

    ``masthead`` draws a 红头 (large red characters and a red rule) above the text, ``title`` a
    centred heading across all columns, ``seal`` a round red 印章 at the bottom right over the last
    lines, ``page_number`` a centred "— 2 —" style number in the bottom margin. Text that does not
    fit is cut off: pick paragraphs for the page size.
    """
    style = style or PageStyle()
    width, height = px(style.size_mm[0], style.dpi), px(style.size_mm[1], style.dpi)
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    margin = px(style.margin_mm, style.dpi)
    y = margin
    if masthead:
        y = _draw_masthead(draw, masthead, style, y)
    font = _font(round(style.font_pt / 72 * style.dpi), style.face)
    pitch = round(font.size * style.line_spacing)
    if title:
        title_font = _font(round(font.size * 1.4), style.face)
        draw.text((width / 2, y), title, font=title_font, fill="black", anchor="ma")
        y += round(title_font.size * 2.0)
    _draw_columns(draw, layout_lines(paragraphs, style), style, y, pitch)
    if page_number:
        number_font = _font(round(font.size * 0.9), style.face)
        draw.text((width / 2, height - margin * 0.6), page_number, font=number_font, fill="black", anchor="md")
    if seal:
        _draw_seal(image, seal, style)
    return image


def _draw_columns(draw: ImageDraw.ImageDraw, lines: list[str], style: PageStyle, top: int, pitch: int) -> None:
    font = _font(round(style.font_pt / 72 * style.dpi), style.face)
    margin = px(style.margin_mm, style.dpi)
    bottom = px(style.size_mm[1], style.dpi) - margin - pitch
    per_column = max(1, (bottom - top) // pitch + 1)
    col_w, gutter = _column_width(style), px(style.gutter_mm, style.dpi)
    for column in range(style.columns):
        x = margin + column * (col_w + gutter)
        for k, line in enumerate(lines[column * per_column : (column + 1) * per_column]):
            draw.text((x, top + k * pitch), line, font=font, fill="black")


def _draw_masthead(draw: ImageDraw.ImageDraw, text: str, style: PageStyle, top: int) -> int:
    """A 红头: red characters as wide as the text block allows (up to 30 pt), then a red rule."""
    width = px(style.size_mm[0], style.dpi)
    usable = width - 2 * px(style.margin_mm, style.dpi)
    size = min(round(30 / 72 * style.dpi), int(usable / max(1, len(text)) * 0.95))
    font = _font(size)
    draw.text((width / 2, top), text, font=font, fill=RED, anchor="ma")
    rule_y = top + round(size * 1.5)
    draw.line([(px(style.margin_mm, style.dpi), rule_y), (width - px(style.margin_mm, style.dpi), rule_y)],
              fill=RED, width=max(2, px(0.6, style.dpi)))
    return rule_y + round(size * 0.9)


def _draw_seal(image: Image.Image, text: str, style: PageStyle) -> None:
    """A round red seal (ring, characters along the upper arc, a star) stamped at the bottom right,
    blended like ink (multiply) so the text under it stays readable, as on a real stamped page."""
    diameter = px(38, style.dpi)
    seal = Image.new("RGB", (diameter, diameter), "white")
    draw = ImageDraw.Draw(seal)
    ring = max(3, px(1.1, style.dpi))
    draw.ellipse([ring // 2, ring // 2, diameter - ring // 2, diameter - ring // 2], outline=RED, width=ring)
    _draw_star(draw, diameter / 2, diameter / 2, diameter * 0.14)
    size = round(diameter * 0.13)
    radius = diameter / 2 - ring - size * 0.75
    span = math.radians(220)
    for i, ch in enumerate(text):
        angle = -math.pi / 2 - span / 2 + span * (i + 0.5) / len(text)
        glyph = Image.new("L", (size * 2, size * 2), 0)
        ImageDraw.Draw(glyph).text((size, size), ch, font=_font(size), fill=255, anchor="mm")
        glyph = glyph.rotate(-math.degrees(angle + math.pi / 2), resample=Image.Resampling.BICUBIC)
        cx = diameter / 2 + radius * math.cos(angle)
        cy = diameter / 2 + radius * math.sin(angle)
        seal.paste(Image.new("RGB", glyph.size, RED), (round(cx - size), round(cy - size)), glyph)
    width, height = image.size
    margin = px(style.margin_mm, style.dpi)
    box = (width - margin - diameter, height - margin - diameter - px(4, style.dpi))
    region = image.crop((box[0], box[1], box[0] + diameter, box[1] + diameter))
    from PIL import ImageChops

    image.paste(ImageChops.multiply(region, seal), box)


def _draw_star(draw: ImageDraw.ImageDraw, cx: float, cy: float, r: float) -> None:
    points = []
    for k in range(10):
        radius = r if k % 2 == 0 else r * 0.4
        angle = -math.pi / 2 + k * math.pi / 5
        points.append((cx + radius * math.cos(angle), cy + radius * math.sin(angle)))
    draw.polygon(points, fill=RED)


def degrade(
    image: Image.Image, *, rotate_deg: float = 0.8, noise: float = 0.002, jpeg_quality: int = 55, seed: int = 0
) -> Image.Image:
    """What a scanner does to a page: a slight skew, speckles and grain, JPEG compression."""
    rng = np.random.default_rng(seed)
    out = image.rotate(rotate_deg, resample=Image.Resampling.BICUBIC, fillcolor="white")
    pixels = np.asarray(out, dtype=np.int16).copy()
    pixels += rng.normal(0, 6, pixels.shape[:2])[..., None].astype(np.int16)  # paper grain
    speckles = rng.random(pixels.shape[:2]) < noise
    pixels[speckles] = rng.integers(0, 90, (int(speckles.sum()), 1))  # dust: dark dots
    out = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    buffer = io.BytesIO()
    out.save(buffer, "JPEG", quality=jpeg_quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def image_bytes(image: Image.Image, fmt: str = "PNG", dpi: int = 200) -> bytes:
    buffer = io.BytesIO()
    options: dict[str, object] = {"dpi": (dpi, dpi)}
    if fmt.upper() == "JPEG":
        options["quality"] = 85
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def tiff_bytes(images: Sequence[Image.Image], dpi: int = 200) -> bytes:
    """A multi-page TIFF (one frame per page), as a scanner's "scan to file" writes it."""
    buffer = io.BytesIO()
    first, *rest = list(images)
    first.save(buffer, "TIFF", save_all=True, append_images=rest, compression="tiff_deflate", dpi=(dpi, dpi))
    return buffer.getvalue()


def scanned_pdf_bytes(images: Sequence[Image.Image], dpi: int = 200) -> bytes:
    """A PDF of page images only (no text layer): each page the size the image has at ``dpi``,
    embedded as JPEG as scanners do (a noisy page as PNG would take 2.5 MB)."""
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    c = canvas.Canvas(buffer, invariant=1)
    for image in images:
        _draw_scan(c, image, dpi)
    c.save()
    return buffer.getvalue()


def _draw_scan(c: object, image: Image.Image, dpi: int) -> None:
    """One page of ``c`` (a reportlab canvas) holding only ``image``, full page."""
    from reportlab.lib.utils import ImageReader

    w, h = image.width / dpi * 72, image.height / dpi * 72
    c.setPageSize((w, h))  # type: ignore[attr-defined]
    reader = ImageReader(io.BytesIO(image_bytes(image.convert("RGB"), "JPEG", dpi)))
    c.drawImage(reader, 0, 0, width=w, height=h)  # type: ignore[attr-defined]
    c.showPage()  # type: ignore[attr-defined]


def text_pdf_page(c: object, paragraphs: Sequence[str], wrap: int = 34) -> None:
    """Draw ``paragraphs`` as a text-layer page on a reportlab canvas (A4, built-in CID font)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    if "STSong-Light" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    c.setPageSize(A4)  # type: ignore[attr-defined]
    c.setFont("STSong-Light", 11)  # type: ignore[attr-defined]
    y = A4[1] - 72
    for paragraph in paragraphs:
        for start in range(0, len(paragraph), wrap):
            c.drawString(72, y, paragraph[start : start + wrap])  # type: ignore[attr-defined]
            y -= 18
        y -= 9
    c.showPage()  # type: ignore[attr-defined]


def mixed_pdf_bytes(text_pages: Sequence[Sequence[str] | Image.Image], dpi: int = 200) -> bytes:
    """A PDF mixing text-layer pages (a list of paragraphs) and scanned pages (an image), in order."""
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    c = canvas.Canvas(buffer, invariant=1)
    for page in text_pages:
        if isinstance(page, Image.Image):
            _draw_scan(c, page, dpi)
        else:
            text_pdf_page(c, page)
    c.save()
    return buffer.getvalue()


def comparable(text: str) -> str:
    """Text reduced to what OCR accuracy is judged on: no whitespace, no punctuation or symbols,
    full-width letters and digits folded (OCR reads "，" and "," alike; both are fine)."""
    folded = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in folded if not ch.isspace() and unicodedata.category(ch)[0] not in "PSZ")


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions), two-row dynamic programming."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def char_accuracy(reference: str, ocr: str) -> float:
    """1 - (edit distance / reference length) on ``comparable`` forms; 1.0 is a perfect read."""
    ref, got = comparable(reference), comparable(ocr)
    if not ref:
        return 1.0 if not got else 0.0
    return max(0.0, 1.0 - edit_distance(ref, got) / len(ref))
