"""OCR of page images (PNG/JPEG/TIFF/BMP/GIF) and of scanned PDF pages, with rapidocr.

rapidocr 3.10 runs PaddleOCR's PP-OCRv6 small detection and recognition models on onnxruntime; both
models ship inside the ``rapidocr`` wheel and are loaded by file path, so nothing is downloaded at run
time (rapidocr's own config would fetch a model missing from its folder; a path given skips that code).
PP-OCRv6's recogniser reads Simplified and Traditional Chinese, and the pinyin glosses of mirror copies
(區(qū)委): the real Traditional copies of eval-dev-2 read at 0.99+ against 0.83-0.90 with PP-OCRv4,
which knew few Traditional characters. Called this module's way (one detection at DET_SIDE, one line
per recognition call) it costs what PP-OCRv4 did: ten bench pages read in one process at 6.0 s and
6.6 CPU-seconds a page against 6.1 s and 6.4. So every page is read with it, and no page needs a
second pass with a better model once its script is known. One engine is loaded per process,
lazily, and calls are serialised: the machine has two cores and onnxruntime already uses both inside
one call, so two concurrent pages would only thrash.

rapidocr gives text boxes, not text. This module turns boxes into what the rest of the pipeline
expects from a laid-out page (see ``normalize._LAID_OUT``): one line per physical line in reading
order (two-column pages read column by column), without the things that are not report text and
would otherwise be taken for findings or cut them in half:

- page numbers ("— 3 —", "第3页", "3/10") alone in the top or bottom band;
- the 红头 (red masthead naming the issuing body) and 印章 (red seals), recognised by colour: the
  red ink is lifted off the page before the body is read (a seal stamped over the last lines no
  longer hides them) and read on its own, region by region. Body text of these documents is always
  black, so colour is a safer test than any list of words. What is left out of the text is kept in
  ``metadata["ocr_dropped"]`` ({"page", "kind": red_masthead | red_seal | red_text | page_number,
  "text", "box", "score"}).

Measured speed and accuracy: ``evaluation/bench_ocr.py``.

Every line keeps its page, pixel box and confidence (``metadata["ocr_lines"]``) so evidence can be
shown where it was read.
"""

from __future__ import annotations

import importlib.util
import io
import math
import os
import re
import struct  # struct.error: Pillow's TIFF reader on short or damaged IFDs
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median
from typing import Any

import numpy as np

from nlp.errors import (
    BackendUnavailableError,
    CorruptImageError,
    ExtractionError,
    FileTooLargeError,
    NoTextFoundError,
    OcrPageLimitError,
    XunchaError,
)
from nlp.model import ExtractedText, MediaType, ProgressCallback

DEFAULT_MAX_OCR_PAGES = 50
# A frame above this many pixels is refused before it is decoded: 8000 x 8000 is far beyond any scan
# (A4 at 600 dpi is 35 MP) and, decoded to RGB, already 190 MB of memory. Smaller than Pillow's own
# bomb limit (89 MP warning, 179 MP error), so Pillow's warning is never what a user sees.
MAX_IMAGE_PIXELS = 64_000_000
# Pages are OCR'd with their longer side at most this many pixels: an A4 page at 200 dpi (2339 px)
# fits; a 48 MP phone photo or a 600 dpi scan is scaled down to it. Characters are then 30-40 px
# high, which the recogniser reads as well as larger ones (it scales every line to 48 px anyway).
MAX_OCR_SIDE = 2400
# The detector sees the page with its longer side at this size (boxes are mapped back to full
# resolution for recognition). Measured on a degraded A4 page at 200 dpi: at 1600 it finds the same
# boxes as at full size in 1.0 s instead of 1.6 s, with 690 MB peak memory instead of 830; at 1280
# and below it starts to split lines into pieces.
DET_SIDE = 1600
OCR_THREADS = 2
# Recognised text below this confidence is dropped (rapidocr's own default): noise, picture edges.
MIN_TEXT_SCORE = 0.5
# The angle classifier votes on at most this many of a page's widest lines (see _vote_upside_down),
# and a vote counts at this confidence.
MAX_VOTES = 12
CLS_SURE = 0.9
# Boxes are widened by this share of their height at each end before recognition (see _widen).
WIDEN = 0.5
# At most this many red regions of a page are read (a masthead, a seal or two, a red rule): a
# colour photo full of red flags must not turn into dozens of OCR calls.
MAX_RED_REGIONS = 8
BACKEND = "rapidocr"
_PACKAGE = "rapidocr"
# The models of the rapidocr 3.10 wheel (its folder ``rapidocr/models``), loaded by path. Another
# rapidocr release bundles other models (3.0-3.9: PP-OCRv4/v5), hence the pin in pyproject.toml.
DET_MODEL = "PP-OCRv6_det_small.onnx"
REC_MODEL = "PP-OCRv6_rec_small.onnx"
CLS_MODEL = "ch_ppocr_mobile_v2.0_cls_mobile.onnx"  # text angle, 0° or 180° (see _vote_upside_down)
# The detector's own size limit: pages reach it already brought to DET_SIDE (see _detect); a crop
# (a masthead region) smaller than this is read at its own size, never enlarged.
DET_LIMIT = 2000

_ENGINE_LOCK = threading.Lock()  # loading the engine (once per process)
_CALL_LOCK = threading.Lock()  # one page at a time through the engine
_OPEN_LOCK = threading.Lock()  # warnings.catch_warnings is process-wide state
_engine: Any = None


# ---------------------------------------------------------------- limits and backend


def max_ocr_pages() -> int:
    """Pages one file may need OCR'd: ``XUNCHA_MAX_OCR_PAGES`` (read at each call) or 50; 0 turns
    OCR off (every scan refused).

    OCR costs seconds a page, so a 300-page scan would hold the only OCR engine for a quarter of an
    hour; the limit makes such a file a clear refusal at upload instead."""
    raw = os.environ.get("XUNCHA_MAX_OCR_PAGES", "").strip()
    try:
        value = int(raw) if raw else DEFAULT_MAX_OCR_PAGES
    except ValueError:
        return DEFAULT_MAX_OCR_PAGES
    return value if value >= 0 else DEFAULT_MAX_OCR_PAGES


def check_ocr_page_limit(pages: int, source: str, what: str = "页") -> None:
    """Refuse a file with more pages to OCR than ``max_ocr_pages()`` (before any OCR is done)."""
    limit = max_ocr_pages()
    if pages > limit:
        raise OcrPageLimitError(
            f"需要文字识别（OCR）的{what}数为 {pages}，超过上限 {limit}，请拆分文件后再上传", source=source
        )


def require_backend(source: str | None = None) -> None:
    """Fail at upload, not in the background job, when the OCR packages are not installed.

    Only looks the packages up (no import, no model loading), so it costs microseconds."""
    if any(importlib.util.find_spec(name) is None for name in ("rapidocr", "onnxruntime")):
        raise BackendUnavailableError(_missing_message(), source=source)


def _missing_message() -> str:
    return f"文字识别（OCR）需要 Python 软件包 {_PACKAGE} 和 onnxruntime，本机未安装：pip install {_PACKAGE} onnxruntime"


@contextmanager
def naming(source: str) -> Iterator[None]:
    """Errors raised inside name ``source``: the OCR code deep down does not know the file."""
    try:
        yield
    except XunchaError as exc:
        if exc.source is None:
            exc.source = source
        raise


def _get_engine() -> Any:
    """The process's one OCR engine, loaded on first use (about 0.5 s, ~150 MB)."""
    global _engine
    with _ENGINE_LOCK:
        if _engine is None:
            _engine = _load_engine()
        return _engine


def model_paths() -> tuple[Path, Path, Path]:
    """The detection, recognition and angle model files inside the installed rapidocr package."""
    spec = importlib.util.find_spec("rapidocr")
    if spec is None or not spec.submodule_search_locations:
        raise BackendUnavailableError(_missing_message())
    folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    return folder / DET_MODEL, folder / REC_MODEL, folder / CLS_MODEL


def _load_engine() -> Any:
    try:
        import onnxruntime  # noqa: F401  (rapidocr does not require it, and names it only when a model loads)
        from rapidocr import RapidOCR
    except ImportError as exc:  # the packages, or opencv under rapidocr
        raise BackendUnavailableError(f"{_missing_message()}（{exc}）") from exc
    det, rec, cls = model_paths()
    missing = [p.name for p in (det, rec, cls) if not p.is_file()]
    if missing:  # never let rapidocr fetch them: an offline machine would hang on the download
        raise BackendUnavailableError(
            f"文字识别（OCR）模型文件缺失（{', '.join(missing)}），请安装 {_PACKAGE}==3.10.*（模型随软件包提供）"
        )
    threads = max(1, min(OCR_THREADS, os.cpu_count() or 1))
    try:
        engine = RapidOCR(
            params={
                "Global.log_level": "error",  # rapidocr logs every model it loads to stderr at info
                "Global.use_cls": False,  # see _detect_and_recognise
                "Global.max_side_len": MAX_OCR_SIDE + 100,  # we scale pages ourselves; it must not shrink them
                "EngineConfig.onnxruntime.intra_op_num_threads": threads,
                "EngineConfig.onnxruntime.inter_op_num_threads": 1,
                "Det.model_path": str(det),
                "Det.limit_type": "max",  # never enlarge a small image (a masthead crop) for detection
                "Det.limit_side_len": DET_LIMIT,
                "Cls.model_path": str(cls),
                "Rec.model_path": str(rec),
                # One line per recognition call: a batch is padded to its widest line; a page's lines
                # cost 5.5 CPU-seconds one by one against 6.5 in rapidocr's batches of 6 (PP-OCRv6).
                "Rec.rec_batch_num": 1,
            }
        )
        # rapidocr loads each model on first use; load all three now, so a damaged install is a clear
        # error here and not an OCR failure in the middle of a job
        line = np.full((48, 96, 3), 255, dtype=np.uint8)
        engine(np.full((64, 64, 3), 255, dtype=np.uint8), use_det=True, use_cls=False, use_rec=False)
        engine.cls_and_rotate([line])
        engine.recognize_txt([line])
        return engine
    except Exception as exc:  # model files damaged, onnxruntime refusing them
        raise BackendUnavailableError(f"文字识别（OCR）引擎无法加载（{type(exc).__name__}: {exc}），请重新安装 {_PACKAGE}") from exc


# ---------------------------------------------------------------- images: open, check, extract


def check_image(data: bytes, source: str) -> None:
    """What an upload is told at once, without OCR: the image opens, decodes and is not a bomb, and
    its frames (pages of a multi-page TIFF) are within the OCR page limit.

    Decoding every frame costs tens of milliseconds a page, and it is the only way to find a file
    cut short in transfer before the background job does."""
    require_backend(source)
    with _open_image(data, source) as image:
        frames = _frame_count(image, source)
        check_ocr_page_limit(frames, source, "图片页")
        for index in range(frames):
            _load_frame(image, index, source)


def extract_image(data: bytes, source: str, *, progress: ProgressCallback | None = None) -> ExtractedText:
    """The text of every frame of an image, one page per frame, by OCR."""
    with _open_image(data, source) as image, naming(source):
        frames = _frame_count(image, source)
        check_ocr_page_limit(frames, source, "图片页")
        _get_engine()  # a missing package is reported before any page is decoded
        results: list[OcrPage] = []
        for index in range(frames):
            rgb = _decode_frame(image, index, source)
            results.append(ocr_image(rgb, page=index + 1))
            del rgb
            if progress is not None:
                progress(index + 1, frames)
    if not any(page.text.strip() for page in results):
        raise NoTextFoundError(f"图片中未识别出任何文字（共 {frames} 页）", source=source)
    return ExtractedText(
        source=source,
        media_type=MediaType.IMAGE,
        pages=[page.text for page in results],
        backend=BACKEND,
        metadata={
            "ocr_pages": list(range(1, frames + 1)),
            "ocr_lines": [page.lines for page in results],
            "ocr_dropped": [d for page in results for d in page.dropped],
            "ocr_image_sizes": [list(page.size) for page in results],
            "ocr_rotation": [page.rotation for page in results],
        },
    )


@contextmanager
def _open_image(data: bytes, source: str) -> Iterator[Any]:
    """Open ``data`` with Pillow, turning its failures and its bomb warning into our typed errors."""
    from PIL import Image, UnidentifiedImageError

    try:
        with _OPEN_LOCK, warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _too_large(None, source) from exc
    except UnidentifiedImageError as exc:
        raise CorruptImageError("图片文件已损坏或不是可识别的图片格式，无法打开", source=source) from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise CorruptImageError(f"图片文件已损坏，无法打开（{exc}）", source=source) from exc
    try:
        yield image
    finally:
        image.close()


def _too_large(size: tuple[int, int] | None, source: str) -> FileTooLargeError:
    dims = f"{size[0]}×{size[1]} 像素，" if size else ""
    return FileTooLargeError(
        f"图片尺寸过大（{dims}超过 {MAX_IMAGE_PIXELS // 10_000} 万像素上限），疑似解压炸弹，已拒绝", source=source
    )


def _frame_count(image: Any, source: str) -> int:
    try:
        return max(1, int(getattr(image, "n_frames", 1)))
    except (OSError, SyntaxError, ValueError, EOFError, struct.error) as exc:
        raise CorruptImageError(f"图片文件已损坏，无法读取其页数（{exc}）", source=source) from exc


def _load_frame(image: Any, index: int, source: str) -> None:
    """Decode frame ``index`` (refused first when its size is a bomb's): damage shows up here."""
    try:
        image.seek(index)
        if image.width * image.height > MAX_IMAGE_PIXELS:
            raise _too_large(image.size, source)
        image.load()
    except (OSError, SyntaxError, ValueError, EOFError, struct.error) as exc:
        raise CorruptImageError(f"图片文件已损坏或不完整，第 {index + 1} 页无法解码（{exc}）", source=source) from exc


def _decode_frame(image: Any, index: int, source: str) -> np.ndarray:
    """Frame ``index`` as an RGB array (H, W, 3), upright and on white."""
    _load_frame(image, index, source)
    try:
        return _to_rgb(image)
    except (OSError, ValueError) as exc:
        raise CorruptImageError(f"图片第 {index + 1} 页的颜色格式无法转换（{exc}）", source=source) from exc


def _to_rgb(frame: Any) -> np.ndarray:
    """An RGB array of any Pillow mode: EXIF rotation applied (phone photos), transparency over white
    (a transparent background would otherwise turn black), 16-bit scans stretched to 8 bits."""
    from PIL import Image, ImageOps

    upright = ImageOps.exif_transpose(frame) or frame
    if upright.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        values = np.asarray(upright, dtype=np.float64)
        span = float(values.max() - values.min()) or 1.0
        grey = ((values - values.min()) * (255.0 / span)).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2)
    if upright.mode in ("RGBA", "LA", "PA") or "transparency" in upright.info:
        rgba = upright.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(white, rgba).convert("RGB"))
    return np.asarray(upright.convert("RGB"))


# ---------------------------------------------------------------- one page


@dataclass
class OcrPage:
    """One OCR'd page: its text, each line's place in it, and what was read but left out."""

    text: str
    lines: list[dict[str, Any]]  # {"start", "end", "box": [x0, y0, x1, y1], "score"}
    dropped: list[dict[str, Any]]  # {"page", "kind", "text", "box", "score"}
    size: tuple[int, int]  # (width, height) of the page image, the frame of every box
    rotation: int = 0  # degrees the page was turned counter-clockwise to be read (0 for upright scans)


@dataclass
class _Box:
    """A text box as read, with its box in the deskewed frame used for layout."""

    poly: np.ndarray  # (4, 2): top-left, top-right, bottom-right, bottom-left, OCR-image pixels
    text: str
    score: float
    x0: float = 0.0
    y0: float = 0.0
    x1: float = 0.0
    y1: float = 0.0
    kind: str = ""  # why it was dropped, if it was

    def __post_init__(self) -> None:
        self.x0, self.y0 = (float(v) for v in self.poly.min(axis=0))
        self.x1, self.y1 = (float(v) for v in self.poly.max(axis=0))

    @property
    def h(self) -> float:
        return max(1.0, self.y1 - self.y0)

    @property
    def w(self) -> float:
        return max(1.0, self.x1 - self.x0)

    @property
    def cy(self) -> float:
        return (self.y0 + self.y1) / 2


@dataclass
class _Line:
    boxes: list[_Box] = field(default_factory=list)

    @property
    def cy(self) -> float:
        return sum(b.cy for b in self.boxes) / len(self.boxes)

    @property
    def h(self) -> float:
        return median(b.h for b in self.boxes)


def ocr_image(rgb: np.ndarray, page: int = 1) -> OcrPage:
    """OCR one page image (RGB array) into laid-out lines; boxes are in ``rgb``'s pixels."""
    height, width = rgb.shape[:2]
    small, scale = _fit(rgb)
    work, turns = small, 0
    boxes, dropped, shapes = _read_page(small)
    if shapes.tall > shapes.wide or (shapes.wide >= 3 and (_chars(boxes) < 10 or shapes.flipped)):
        work, turns, boxes, dropped = _turned_upright(small, boxes, dropped, sideways=shapes.tall > shapes.wide)
    _deskew(boxes)
    lines = _reading_order(boxes)
    lines, numbers = _drop_page_numbers(lines, work.shape[0])
    if turns:
        for b in boxes + dropped + numbers:
            b.poly = _unturn(b.poly, turns, small.shape[:2])
    text, line_dicts = _compose(lines, scale, (width, height))
    gone = [_dropped_dict(b, page, scale, (width, height)) for b in dropped + numbers]
    return OcrPage(text=text, lines=line_dicts, dropped=gone, size=(width, height), rotation=90 * turns)


@dataclass
class _Shapes:
    """How many of the detected boxes lie wide (lines of an upright page) or stand tall, and how
    many of the widest the angle classifier was asked about (``voted``) and found upside down."""

    wide: int = 0
    tall: int = 0
    voted: int = 0
    upside_down: int = 0

    @property
    def flipped(self) -> bool:
        """Most of the page's lines are upside down: the page was fed the wrong way round."""
        return self.voted >= 3 and self.upside_down > self.voted / 2


def _read_page(rgb: np.ndarray) -> tuple[list[_Box], list[_Box], _Shapes]:
    """The page's black text boxes, its red regions (masthead, seals) and the shapes of what the
    detector found: with red ink, the body is read with the red lifted off and the red on its own."""
    red = _red_ink(rgb)
    if red is None:
        boxes, shapes = _read(rgb)
        return boxes, [], shapes
    boxes, shapes = _read(_whiten(rgb, red))
    dropped = _read_red(red)
    if not boxes and any(b.text for b in dropped):  # only red text: a page printed in red
        boxes, shapes = _read(rgb)
        return boxes, [], shapes
    return boxes, dropped, shapes


def _chars(boxes: list[_Box]) -> int:
    return sum(len(b.text) for b in boxes)


def _turned_upright(
    small: np.ndarray, boxes: list[_Box], dropped: list[_Box], sideways: bool
) -> tuple[np.ndarray, int, list[_Box], list[_Box]]:
    """A page scanned sideways (its text lines stand tall) or upside down (the angle classifier finds
    most lines upside down, or they read as nothing): read it turned by 90 and 270, or by 180
    degrees, and keep the turn that reads most. Costly, so done only for such pages. A sideways
    page's own reading is never kept when a turn reads: rapidocr turns tall crops and may read them,
    but their lines are not in reading order. Upside down, PP-OCRv6 still reads lines, as confident
    nonsense (交期质定护梁 at 0.6): the turn is kept when it reads more characters for sure, counted
    as characters x confidence, than the page as it came."""
    best: tuple[np.ndarray, int, list[_Box], list[_Box]] = (small, 0, boxes, dropped)
    floor = 10.0 if sideways else max(10.0, _sure(boxes))
    for turns in (1, 3) if sideways else (2,):
        turned = np.ascontiguousarray(np.rot90(small, turns))
        found, lost, _ = _read_page(turned)
        if _chars(found) >= 10 and _sure(found) > floor:
            best, floor = (turned, turns, found, lost), _sure(found)
            if median(b.score for b in found) >= 0.9:
                break  # clearly upright now: the other side need not be tried
    return best


def _sure(boxes: list[_Box]) -> float:
    """Characters read, each counted by the recogniser's confidence in its line."""
    return sum(len(b.text) * b.score for b in boxes)


def _unturn(points: np.ndarray, turns: int, shape: tuple[int, int]) -> np.ndarray:
    """Points of the page turned ``turns`` x 90° counter-clockwise (np.rot90) back in the page as given."""
    height, width = shape
    x, y = points[:, 0], points[:, 1]
    if turns == 1:
        return np.stack([width - 1 - y, x], axis=1)
    if turns == 2:
        return np.stack([width - 1 - x, height - 1 - y], axis=1)
    return np.stack([y, height - 1 - x], axis=1)


def _fit(rgb: np.ndarray) -> tuple[np.ndarray, float]:
    """Scale a page down so its longer side is at most MAX_OCR_SIDE (returns the image and the scale)."""
    import cv2

    height, width = rgb.shape[:2]
    scale = min(1.0, MAX_OCR_SIDE / max(height, width))
    if scale >= 1.0:
        return rgb, 1.0
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA), scale


def _read_boxes(rgb: np.ndarray, dx: float = 0.0, dy: float = 0.0) -> list[_Box]:
    """The boxes of an image that hold text, moved by (dx, dy) (a region read on its own)."""
    boxes, _ = _read(rgb)
    for b in boxes:
        b.poly = b.poly + (dx, dy)
        b.__post_init__()
    return boxes


def _read(rgb: np.ndarray) -> tuple[list[_Box], _Shapes]:
    """Run the engine on an image (serialised): the boxes that hold text, and the shapes detected."""
    if min(rgb.shape[:2]) < 8:
        return [], _Shapes()  # a sliver: nothing to read, and the detector's resizing fails on it
    engine = _get_engine()
    bgr = np.ascontiguousarray(rgb[:, :, ::-1])
    try:
        with _CALL_LOCK:
            found, shapes = _detect_and_recognise(engine, bgr)
    except Exception as exc:  # onnxruntime / OpenCV failures on a strange page
        raise ExtractionError(f"文字识别（OCR）失败（{type(exc).__name__}）") from exc
    return [_Box(quad.astype(np.float64), text, score) for quad, text, score in found], shapes


def _detect_and_recognise(engine: Any, bgr: np.ndarray) -> tuple[list[tuple[np.ndarray, str, float]], _Shapes]:
    """Detection, then recognition of each box widened along its line.

    The detector's boxes stop at the last character's body and leave out a small mark hanging at
    the line's end or start: a closing quote ” after 三重一大 is lost, and with it the quote that
    the finding splitter needs to close. Widening a box where there is ink beside it (never into
    the next box) gives the recogniser the whole line. The angle classifier does not turn lines one
    by one (it turned some upright lines of degraded scans upside down: accuracy 0.98 -> 0.92); it
    only votes on the page's widest lines, which tells a page fed upside down (see _Shapes)."""
    quads = _detect(engine, bgr)
    if not quads:
        return [], _Shapes()
    shapes = _Shapes()
    lengths = []
    for q in quads:
        along, across = float(np.linalg.norm(q[1] - q[0])), float(np.linalg.norm(q[3] - q[0]))
        shapes.wide += along > 1.5 * across
        shapes.tall += across > 1.5 * along
        lengths.append(along if along > 1.5 * across else 0.0)
    quads = _widen(quads, bgr)
    crops = engine.crop_text_regions(bgr, np.asarray(quads, dtype=np.float32))
    _vote_upside_down(engine, [crops[i] for i in np.argsort(lengths)[::-1][:MAX_VOTES] if lengths[i] > 0], shapes)
    results = engine.recognize_txt(crops)
    out = []
    for quad, raw, raw_score in zip(quads, results.txts, results.scores, strict=True):
        text, score = str(raw).strip(), float(raw_score)
        if text and score >= MIN_TEXT_SCORE:
            out.append((quad, text, score))
    return out, shapes


def _vote_upside_down(engine: Any, crops: list[np.ndarray], shapes: _Shapes) -> None:
    """Ask the angle classifier (a 0.6 MB model, milliseconds a line) which of ``crops`` are upside
    down; only a sure answer (rapidocr's own threshold, 0.9) counts as a vote for 180°."""
    if not crops:
        return
    _, result = engine.cls_and_rotate(crops)
    shapes.voted = len(crops)
    shapes.upside_down = sum(1 for label, score in result.cls_res if str(label) == "180" and float(score) >= CLS_SURE)


def _detect(engine: Any, bgr: np.ndarray) -> list[np.ndarray]:
    """Text boxes (4 corners, float32, in ``bgr``'s pixels), detected on a copy at most DET_SIDE
    pixels long: recognition still crops every line from the full-resolution page."""
    import cv2

    scale = min(1.0, DET_SIDE / max(bgr.shape[:2]))
    small = bgr
    if scale < 1.0:
        size = (max(1, round(bgr.shape[1] * scale)), max(1, round(bgr.shape[0] * scale)))
        small = cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)
    found = engine(small, use_det=True, use_cls=False, use_rec=False)
    polys = getattr(found, "boxes", None)
    if polys is None:
        return []
    return [(np.asarray(p, dtype=np.float32).reshape(4, 2) / np.float32(scale)) for p in polys]


def _widen(quads: list[np.ndarray], bgr: np.ndarray) -> list[np.ndarray]:
    """Each box stretched along its own direction by up to WIDEN x its height at an end where there
    is ink just outside it (a mark the detector left out; dust specks are too small to count), no
    further than halfway to a neighbouring box on the same line and not off the page."""
    ink = bgr.min(axis=2) < 128
    bounds = [(float(q[:, 0].min()), float(q[:, 1].min()), float(q[:, 0].max()), float(q[:, 1].max())) for q in quads]
    out = []
    for i, quad in enumerate(quads):
        height = float(np.linalg.norm(quad[3] - quad[0]))
        left, right = _room(i, bounds, WIDEN * height, ink.shape[1])
        x0, y0, x1, y1 = (int(v) for v in bounds[i])
        left = left if _has_ink(ink[y0:y1, max(0, int(x0 - left)) : x0], height) else 0.0
        right = right if _has_ink(ink[y0:y1, x1 : int(x1 + right) + 1], height) else 0.0
        direction = quad[1] - quad[0]
        unit = direction / max(1e-6, float(np.linalg.norm(direction)))
        wide = quad.copy()
        wide[[0, 3]] -= unit * left
        wide[[1, 2]] += unit * right
        out.append(wide.astype(np.float32))
    return out


def _room(i: int, bounds: list[tuple[float, float, float, float]], reach: float, width: int) -> tuple[float, float]:
    """How far box ``i`` may grow left and right: ``reach``, halfway to a box on its line, the page."""
    x0, y0, x1, y1 = bounds[i]
    left, right = reach, reach
    for j, (ox0, oy0, ox1, oy1) in enumerate(bounds):
        if j == i or min(y1, oy1) - max(y0, oy0) < 0.5 * min(y1 - y0, oy1 - oy0):
            continue  # not on the same line
        if ox0 >= x1 - 1:
            right = min(right, max(0.0, (ox0 - x1) / 2))
        elif ox1 <= x0 + 1:
            left = min(left, max(0.0, (x0 - ox1) / 2))
    return min(left, x0), min(right, max(0.0, width - 1 - x1))


def _has_ink(strip: np.ndarray, line_height: float) -> bool:
    """A mark, not dust: some column of the strip crossed by a stroke (a tenth of the line height of
    dark pixels; a closing quote has 6-8 at 12 pt and 200 dpi, a speck of dust one or two)."""
    if strip.size == 0:
        return False
    columns = strip.sum(axis=0)
    return int(columns.max()) >= max(3, 0.1 * line_height) and int(columns.sum()) >= 8


# ---------------------------------------------------------------- colour: 红头 and 印章


def _red_ink(rgb: np.ndarray) -> np.ndarray | None:
    """Mask of red ink on the page (with its pink anti-aliased edges), or None when there is none.

    Red ink: red clearly above green and blue, and green far below the paper's (so warm paper in a
    photo under lamp light, orange but light, is not ink). The faint pink fringe around red strokes
    is added, or a whitened masthead would leave its outline behind, which OCR reads perfectly."""
    import cv2

    pixels = rgb.astype(np.int16)
    r, g, b = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    paper_green = float(np.median(g[::4, ::4]))
    core = (r > 110) & (r - g > 50) & (r - b > 40) & (g < paper_green - 80)
    if int(core.sum()) < max(200, rgb.shape[0] * rgb.shape[1] // 5000):
        return None
    near = cv2.dilate(core.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    return core | (near & (r - g > 15) & (r - b > 10) & (g > 120))  # light pink only: black under a seal stays


def _whiten(rgb: np.ndarray, red: np.ndarray) -> np.ndarray:
    """The page with its red ink turned to paper: what is left is the black report text.

    A seal is stamped over the last lines and the date; with it, the detector misses or garbles
    those lines. Black strokes under the seal stay dark where the inks overlap, so they are kept."""
    out = rgb.copy()
    out[red] = 255
    return out


def _read_red(red: np.ndarray) -> list[_Box]:
    """Read the red ink on its own, region by region (masthead line, each seal), black on white;
    one box per region, holding what was read in it (a seal may read as nothing: still recorded).

    Only the regions are OCR'd, not the page again, so a masthead costs one short line."""
    import cv2

    height, width = red.shape
    reach = max(3, round(0.012 * max(height, width)))  # joins the characters of one masthead line
    joined = cv2.dilate(red.astype(np.uint8), np.ones((reach, reach), np.uint8))
    count, _, stats, _ = cv2.connectedComponentsWithStats(joined, connectivity=8)
    found: list[_Box] = []
    largest = sorted(range(1, count), key=lambda k: -int(stats[k][4]))[:MAX_RED_REGIONS]
    regions = [tuple(int(v) for v in stats[k][:4]) for k in largest]
    for x, y, w, h in regions:
        if h < 2 * reach or int(red[y : y + h, x : x + w].sum()) < 150:
            continue  # a rule under the masthead, a speck
        if any(_inside((x, y, w, h), other) for other in regions if other != (x, y, w, h)):
            continue  # the star inside a seal's ring
        layer = np.where(red[y : y + h, x : x + w, None], 0, 255).astype(np.uint8).repeat(3, axis=2)
        pad = 2 * reach
        layer = np.pad(layer, ((pad, pad), (pad, pad), (0, 0)), constant_values=255)
        inside = sorted(_read_boxes(layer, x - pad, y - pad), key=lambda b: (round(b.cy / max(1.0, b.h)), b.x0))
        poly = np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], dtype=np.float64)
        score = sum(b.score for b in inside) / len(inside) if inside else 0.0
        region = _Box(poly, "".join(b.text for b in inside), score, kind=_red_kind(w, h, y + h / 2, height))
        if region.text or region.kind == "red_seal":
            found.append(region)
    return found


def _inside(inner: tuple[int, ...], outer: tuple[int, ...]) -> bool:
    x, y, w, h = inner
    ox, oy, ow, oh = outer
    return ox <= x and oy <= y and x + w <= ox + ow and y + h <= oy + oh


def _red_kind(w: int, h: int, cy: float, page_h: int) -> str:
    """A round red region is a seal; a red line near the top, the masthead (红头)."""
    if 0.6 <= w / max(1, h) <= 1.6:
        return "red_seal"
    return "red_masthead" if cy < 0.3 * page_h else "red_text"


# ---------------------------------------------------------------- geometry: skew, columns, lines


def _deskew(boxes: list[_Box]) -> None:
    """Re-express every box in a frame where the page's text lines are horizontal.

    A scan is rarely straight: at 0.8° a full-width line rises 20 px from end to end, enough to
    merge or split lines grouped by height. The skew is the median slope of the long boxes."""
    slopes = []
    for b in boxes:
        dx, dy = b.poly[1] - b.poly[0]
        if dx > 3 * max(1.0, float(np.linalg.norm(b.poly[3] - b.poly[0]))):
            slopes.append(math.atan2(dy, dx))
    if not slopes:
        return
    angle = median(slopes)
    if abs(angle) < math.radians(0.1) or abs(angle) > math.radians(15):
        return
    cos, sin = math.cos(-angle), math.sin(-angle)
    rotation = np.array([[cos, -sin], [sin, cos]])
    centre = np.vstack([b.poly for b in boxes]).mean(axis=0)  # turn about the text, not a corner
    for b in boxes:
        turned = (b.poly - centre) @ rotation.T + centre
        b.x0, b.y0 = (float(v) for v in turned.min(axis=0))
        b.x1, b.y1 = (float(v) for v in turned.max(axis=0))


def _reading_order(boxes: list[_Box]) -> list[_Line]:
    """Lines in reading order: top to bottom, or column by column when the page has two columns."""
    if not boxes:
        return []
    gutter = _find_gutter(boxes)
    if gutter is None:
        return _group_lines(boxes)
    return _two_column_order(boxes, gutter)


def _find_gutter(boxes: list[_Box]) -> float | None:
    """The x of a clear vertical gutter between two columns of text, or None.

    Evidence required, so that single-column pages (short last lines of paragraphs, a signature on
    the right) and tables are not split: a vertical strip in the middle of the text block, at least
    a character wide, that no more than a fifth of the boxes cross (a title or a table may span the
    columns); on each side at least three boxes that fill their column and hold a phrase, not a
    word (wrapped prose does; table cells of names and figures do not); the two sides running down
    the same stretch of the page."""
    if len(boxes) < 6:
        return None
    left_edge, right_edge = min(b.x0 for b in boxes), max(b.x1 for b in boxes)
    width = right_edge - left_edge
    gap = _widest_gap(boxes, left_edge, width, crossing=max(1, len(boxes) // 5))
    if gap is None or gap[1] - gap[0] < max(median(b.h for b in boxes) * 0.8, 0.015 * width):
        return None
    left = [b for b in boxes if b.x1 <= gap[0]]
    right = [b for b in boxes if b.x0 >= gap[1]]
    if len(left) < 3 or len(right) < 3:
        return None
    if median(b.w for b in left) < 0.6 * (gap[0] - left_edge) or median(b.w for b in right) < 0.6 * (right_edge - gap[1]):
        return None
    if min(median(len(b.text) for b in left), median(len(b.text) for b in right)) < 6:
        return None  # cells of names, dates, figures: a table, read row by row
    top = max(min(b.y0 for b in left), min(b.y0 for b in right))
    bottom = min(max(b.y1 for b in left), max(b.y1 for b in right))
    shorter = min(max(b.y1 for b in side) - min(b.y0 for b in side) for side in (left, right))
    if bottom - top < 0.5 * shorter:
        return None
    return (gap[0] + gap[1]) / 2


def _widest_gap(boxes: list[_Box], left_edge: float, width: float, crossing: int) -> tuple[float, float] | None:
    """The widest x-range in the middle of the text block covered by at most ``crossing`` boxes."""
    cover = np.zeros(int(width) + 2, dtype=np.int32)
    for b in boxes:
        cover[max(0, int(b.x0 - left_edge)) : int(math.ceil(b.x1 - left_edge)) + 1] += 1
    lo, hi = int(0.2 * width), int(0.8 * width)
    best: tuple[int, int] | None = None
    start = None
    for x in range(lo, hi + 1):
        open_ = x < hi and cover[x] <= crossing
        if open_ and start is None:
            start = x
        elif not open_ and start is not None:
            if best is None or x - start > best[1] - best[0]:
                best = (start, x)
            start = None
    return None if best is None else (left_edge + best[0], left_edge + best[1])


def _two_column_order(boxes: list[_Box], gutter: float) -> list[_Line]:
    """Left column then right column, band by band between lines that cross the gutter (a title
    or a table across the page ends one band of columns and starts the next)."""
    spanning = _group_lines([b for b in boxes if b.x0 < gutter < b.x1])
    bands: list[list[_Box]] = [[] for _ in range(len(spanning) + 1)]
    for b in boxes:
        if not (b.x0 < gutter < b.x1):
            bands[sum(1 for line in spanning if line.cy < b.cy)].append(b)
    ordered: list[_Line] = []
    for k, band in enumerate(bands):
        ordered += _group_lines([b for b in band if b.x1 <= gutter])
        ordered += _group_lines([b for b in band if b.x1 > gutter])
        if k < len(spanning):
            ordered.append(spanning[k])
    return ordered


def _group_lines(boxes: list[_Box]) -> list[_Line]:
    """Boxes on one physical line, top to bottom, each line's boxes left to right.

    Two boxes share a line when their centres are within half a line height of each other, measured
    in the deskewed frame; the height is the larger of the two so a lone "。" joins its line."""
    lines: list[_Line] = []
    for b in sorted(boxes, key=lambda b: b.cy):
        if lines and abs(b.cy - lines[-1].cy) <= 0.5 * max(b.h, lines[-1].h):
            lines[-1].boxes.append(b)
        else:
            lines.append(_Line([b]))
    for line in lines:
        line.boxes.sort(key=lambda b: b.x0)
    return lines


# ---------------------------------------------------------------- page numbers and output

_DASHES = r"[\s\-—–―─_~·•－一=]*"
_PAGE_NUMBER = re.compile(
    rf"^{_DASHES}(第\s*)?[0-9０-９]{{1,4}}\s*页?\s*(([/／]|共)\s*[0-9０-９]{{1,4}}\s*页?)?{_DASHES}$"
    r"|^\s*(page|Page|PAGE)\s*\d{1,4}(\s*(of|/)\s*\d{1,4})?\s*$"
)
_EDGE_BAND = 0.12  # top and bottom fraction of the page where page numbers are printed


def _drop_page_numbers(lines: list[_Line], page_h: int) -> tuple[list[_Line], list[_Box]]:
    """Remove lines that are only a page number and sit at the top or bottom of the page (the
    first or last line read, or inside the edge bands)."""
    kept: list[_Line] = []
    dropped: list[_Box] = []
    for index, line in enumerate(lines):
        text = _line_text(line)
        at_edge = index in (0, len(lines) - 1) or line.cy < _EDGE_BAND * page_h or line.cy > (1 - _EDGE_BAND) * page_h
        if at_edge and _PAGE_NUMBER.match(text):
            for b in line.boxes:
                b.kind = "page_number"
            dropped += line.boxes
        else:
            kept.append(line)
    return kept, dropped


def _line_text(line: _Line) -> str:
    """The boxes of a line joined: directly for Chinese, with a space between Latin words and
    across wide gaps (table cells, "姓名    职务"), which are separate items."""
    out = line.boxes[0].text
    for prev, b in zip(line.boxes, line.boxes[1:], strict=False):
        gap = b.x0 - prev.x1
        wide = gap > 1.0 * max(prev.h, b.h)
        latin = out[-1:].isascii() and out[-1:].isalnum() and b.text[:1].isascii() and b.text[:1].isalnum()
        out += (" " if wide or latin else "") + b.text
    return out


def _compose(lines: list[_Line], scale: float, size: tuple[int, int]) -> tuple[str, list[dict[str, Any]]]:
    """Page text ("\\n" between lines) and, per line, its offsets, pixel box and confidence."""
    texts: list[str] = []
    records: list[dict[str, Any]] = []
    offset = 0
    for line in lines:
        text = _line_text(line)
        chars = sum(len(b.text) for b in line.boxes)
        score = sum(b.score * len(b.text) for b in line.boxes) / max(1, chars)
        polys = np.vstack([b.poly for b in line.boxes])
        records.append(
            {"start": offset, "end": offset + len(text), "box": _pixel_box(polys, scale, size), "score": round(score, 4)}
        )
        texts.append(text)
        offset += len(text) + 1
    return "\n".join(texts), records


def _pixel_box(points: np.ndarray, scale: float, size: tuple[int, int]) -> list[int]:
    """[x0, y0, x1, y1] of ``points`` in the page image's own pixels (undoing the OCR downscale)."""
    lo, hi = points.min(axis=0) / scale, points.max(axis=0) / scale
    x0, y0 = max(0, int(lo[0])), max(0, int(lo[1]))
    return [x0, y0, min(size[0], int(math.ceil(hi[0]))), min(size[1], int(math.ceil(hi[1])))]


def _dropped_dict(box: _Box, page: int, scale: float, size: tuple[int, int]) -> dict[str, Any]:
    return {
        "page": page,
        "kind": box.kind,
        "text": box.text,
        "box": _pixel_box(box.poly, scale, size),
        "score": round(box.score, 4),
    }
