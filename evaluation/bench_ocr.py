"""OCR speed and accuracy on real report text rendered as degraded scans, with a text-layer baseline.

Pages: the eval-dev and eval-dev-2 texts (../shared), one text per A4 page, drawn with the Noto CJK
font at 200 dpi and degraded like a scan (0.8° skew, speckles, JPEG quality 55); see
tests/ocr_builders.py. Measured in one run:

* OCR of N page images through ``extract_image``: pages/s, mean and minimum character accuracy
  (1 - edit distance / length, whitespace and punctuation ignored), and the share of the findings
  of the same text read as .txt that the image also yields (each page its own report);
* ingest (``analyze_bytes``, tagging included) of a 20-page scanned PDF, against the same 20 pages as
  a text-layer PDF (the baseline, same process), as a ratio, with each page's character accuracy.

Six of the dev texts (all in eval-dev-2) are Traditional-script mirror copies, three with pinyin
glosses, so figures are also given by script: PP-OCRv4, the engine until 2026-12, read them at 0.84 and lost
more than half of their findings; PP-OCRv6 small (rapidocr 3.10, now the only engine) reads them as
well as the Simplified texts.

Measured 2026-12-01 (2 cores shared with other work, load 2-5; evaluation/bench_results/bench_ocr.txt):
10 page images at 0.125 pages/s (8.0 s a page), character accuracy mean 0.9993, min 0.9957 (简 1.0000,
繁 0.9976), findings of the .txt found from the image 0.963 (简 1.000, 繁 0.889); the 20-page scanned PDF
ingested in 125 s (6.2 s a page). PP-OCRv4 on the same machine had read the 10 pages at 6.5 s a page
with accuracy 0.9508 (繁 0.8372, findings 0.4345) and the PDF in 68 s, at a lower load; read page for
page in one process at the same load, the two engines cost the same: PP-OCRv4 6.09 s and 6.43 CPU-s a
page, PP-OCRv6 6.04 s and 6.57 CPU-s (mean accuracy 0.9508 against 0.9993).

Usage: python evaluation/bench_ocr.py [--pages 10] [--pdf-pages 20] [--format text|json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from difflib import SequenceMatcher
from typing import Any

from common import EVAL_DEV, REPO, SHARED, eval_dev_text

sys.path.insert(0, str(REPO / "tests"))  # the page builders shared with the OCR tests

from ocr_builders import (  # noqa: E402
    A4_MM,
    PageStyle,
    char_accuracy,
    cjk_font_path,
    comparable,
    degrade,
    image_bytes,
    mixed_pdf_bytes,
    render_page,
    scanned_pdf_bytes,
)

from nlp.extract import ocr  # noqa: E402
from nlp.extract.ocr import extract_image  # noqa: E402
from nlp.extract.pdf import OCR_DPI  # noqa: E402
from nlp.pipeline import analyze_bytes, analyze_extracted  # noqa: E402
from nlp.script import to_simplified  # noqa: E402

EVAL_DEV_2 = SHARED / "eval-dev-2"
STYLE = PageStyle(size_mm=A4_MM, dpi=OCR_DPI, font_pt=12)


def report_texts() -> list[tuple[str, list[str]]]:
    """(name, paragraphs) of every shared dev text, eval-dev first."""
    out = []
    for folder in (EVAL_DEV / "docs", EVAL_DEV_2 / "docs"):
        for path in sorted(folder.glob("*.txt")):
            paragraphs = [p.strip() for p in eval_dev_text(path).split("\n") if p.strip()]
            if paragraphs:
                out.append((path.name, paragraphs))
    return out


def scan_pages(texts: list[tuple[str, list[str]]], count: int, offset: int = 0) -> list[tuple[str, list[str], Any]]:
    """``count`` degraded A4 page images, one text each, spread evenly over ``texts`` (both sets)."""
    pages = []
    for i in range(count):
        name, paragraphs = texts[(offset + i * len(texts) // max(1, min(count, len(texts)))) % len(texts)]
        pages.append((name, paragraphs, degrade(render_page(paragraphs, STYLE), seed=i)))
    return pages


def script_of(paragraphs: list[str]) -> str:
    """简 or 繁: six of the dev texts are Traditional-script copies from mirror sites."""
    text = "".join(paragraphs)
    changed = sum(1 for a, b in zip(text, to_simplified(text), strict=False) if a != b)
    return "繁" if changed > 0.05 * max(1, len(text)) else "简"


def bench_images(pages: list[tuple[str, list[str], Any]]) -> dict[str, Any]:
    """OCR each page image as an upload would be (PNG bytes through extract_image); accuracy of its
    characters and of its findings against the same text read as .txt (each page its own report)."""
    ocr._get_engine()  # load outside the timing, as a running server has it loaded
    per_page: list[dict[str, Any]] = []
    total = 0.0
    for name, paragraphs, image in pages:
        data = image_bytes(image, "PNG", OCR_DPI)
        t0 = time.perf_counter()
        extracted = extract_image(data, name)
        seconds = time.perf_counter() - t0
        total += seconds
        reference = analyze_bytes("\n".join(paragraphs).encode("utf-8"), name, tagger=None)
        per_page.append(
            {
                "doc": name,
                "script": script_of(paragraphs),
                "seconds": round(seconds, 2),
                "accuracy": round(char_accuracy("\n".join(paragraphs), extracted.pages[0]), 4),
                "findings": len(reference.findings),
                "findings_recall": round(finding_recall(reference, analyze_extracted(extracted, None)), 4),
            }
        )
    return {
        "pages": len(pages),
        "seconds": round(total, 2),
        "pages_per_s": round(len(pages) / total, 3),
        "s_per_page": round(total / len(pages), 2),
        "accuracy_mean": _mean(per_page, "accuracy"),
        "accuracy_min": min(p["accuracy"] for p in per_page),
        "accuracy_by_script": _by_script(per_page, "accuracy"),
        "findings_recall_mean": _mean([p for p in per_page if p["findings"]], "findings_recall"),
        "findings_recall_by_script": _by_script([p for p in per_page if p["findings"]], "findings_recall"),
        "per_page": per_page,
    }


def _mean(rows: list[dict[str, Any]], key: str) -> float:
    return round(sum(r[key] for r in rows) / max(1, len(rows)), 4)


def _by_script(rows: list[dict[str, Any]], key: str) -> dict[str, float]:
    return {s: _mean(group, key) for s in ("简", "繁") if (group := [r for r in rows if r["script"] == s])}


class Pages:
    """A ``progress(done, total)`` callback keeping the number of pages OCR'd."""

    def __init__(self) -> None:
        self.done = 0

    def __call__(self, done: int, total: int) -> None:
        self.done = done


def bench_pdf(pages: list[tuple[str, list[str], Any]]) -> dict[str, Any]:
    """Ingest (analyze_bytes, tagging included) of a scanned PDF of ``pages`` against the same pages
    with a text layer, and the character accuracy of the scanned PDF's pages."""
    scanned = scanned_pdf_bytes([image for _, _, image in pages], OCR_DPI)
    text_pdf = mixed_pdf_bytes([paragraphs for _, paragraphs, _ in pages])
    analyze_bytes(text_pdf, "warmup.pdf")  # tagger and model loaded outside the timing
    rows: dict[str, Any] = {"pages": len(pages)}
    for label, data in (("text_layer", text_pdf), ("scanned", scanned)):
        progress = Pages()
        t0 = time.perf_counter()
        doc = analyze_bytes(data, f"{label}.pdf", progress=progress)
        seconds = time.perf_counter() - t0
        bounds = doc.page_starts + [len(doc.text)]
        accuracy = [
            char_accuracy("\n".join(paragraphs), doc.text[bounds[i] : bounds[i + 1]])
            for i, (_, paragraphs, _) in enumerate(pages)
        ]
        rows[label] = {
            "analyze_bytes_s": round(seconds, 3),
            "s_per_page": round(seconds / len(pages), 3),
            "ocr_pages": progress.done,
            "accuracy_mean": round(sum(accuracy) / len(accuracy), 4),
            "mb": round(len(data) / 1048576, 2),
        }
    rows["ratio_scanned_vs_text"] = round(rows["scanned"]["analyze_bytes_s"] / max(1e-9, rows["text_layer"]["analyze_bytes_s"]), 1)
    rows["traditional_pages"] = sum(1 for _, paragraphs, _ in pages if script_of(paragraphs) == "繁")
    return rows


def finding_recall(reference: Any, got: Any) -> float:
    """Share of the reference's findings that ``got`` also has (near-identical text, ratio >= 0.8)."""
    found = [comparable(f.text) for f in got.findings]
    refs = [comparable(f.text) for f in reference.findings]
    hits = sum(1 for r in refs if any(SequenceMatcher(None, r, o, autojunk=False).ratio() >= 0.8 for o in found))
    return hits / max(1, len(refs))


def print_text(result: dict[str, Any]) -> None:
    cfg, img, pdf = result["config"], result["images"], result["pdf"]
    print(f"OCR bench: rapidocr ({cfg['models']}), {cfg['threads']} threads, {cfg['dpi']} dpi, "
          f"max side {cfg['max_side']} px, detector side {cfg['det_side']} px, load avg before {cfg['load_avg']}")
    print(f"\nPage images ({img['pages']} A4 pages, degraded: 0.8° skew, speckles, JPEG q55)")
    print(f"{'doc':52s} {'script':>6s} {'seconds':>8s} {'accuracy':>9s} {'findings':>9s} {'recall':>7s}")
    for row in img["per_page"]:
        recall = f"{row['findings_recall']:7.3f}" if row["findings"] else f"{'-':>7s}"  # nothing to find
        print(f"{row['doc']:52s} {row['script']:>5s} {row['seconds']:8.2f} {row['accuracy']:9.4f} "
              f"{row['findings']:9d} {recall}")
    print(f"OCR: {img['pages_per_s']:.3f} pages/s ({img['s_per_page']:.2f} s/page)")
    print(f"character accuracy: mean {img['accuracy_mean']:.4f}, min {img['accuracy_min']:.4f}, by script {_fmt(img['accuracy_by_script'])}")
    print(f"findings of the .txt also found from the image: mean {img['findings_recall_mean']:.4f}, "
          f"by script {_fmt(img['findings_recall_by_script'])}")
    print(f"\nIngest (analyze_bytes, tagging included) of a {pdf['pages']}-page PDF "
          f"({pdf['traditional_pages']} pages in Traditional script)")
    print(f"{'input':12s} {'seconds':>9s} {'s/page':>8s} {'ratio':>7s} {'OCR pages':>10s} {'accuracy':>9s} {'MB':>6s}")
    base = pdf["text_layer"]["analyze_bytes_s"]
    for label in ("text_layer", "scanned"):
        row = pdf[label]
        print(f"{label:12s} {row['analyze_bytes_s']:9.3f} {row['s_per_page']:8.3f} {row['analyze_bytes_s'] / max(1e-9, base):7.1f} "
              f"{row['ocr_pages']:10d} {row['accuracy_mean']:9.4f} {row['mb']:6.2f}")
    print(f"peak RSS {result['peak_rss_mb']} MB")


def _fmt(values: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.4f}" for k, v in values.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=10, help="page images to OCR (default 10)")
    parser.add_argument("--pdf-pages", type=int, default=20, help="pages of the scanned PDF (default 20)")
    parser.add_argument("--format", choices=["text", "json"], default="text")
    args = parser.parse_args()
    if cjk_font_path() is None:
        sys.exit("Noto CJK font not found: apt install fonts-noto-cjk")
    texts = report_texts()
    if not texts:
        sys.exit(f"no report texts under {SHARED}")
    load = os.getloadavg()[0]
    result = {
        "config": {
            "models": f"{ocr.DET_MODEL}, {ocr.REC_MODEL}",
            "threads": ocr.OCR_THREADS,
            "dpi": OCR_DPI,
            "max_side": ocr.MAX_OCR_SIDE,
            "det_side": ocr.DET_SIDE,
            "load_avg": round(load, 2),
        },
        "images": bench_images(scan_pages(texts, args.pages)),
        "pdf": bench_pdf(scan_pages(texts, args.pdf_pages, offset=1)),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    if args.format == "json":
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        print_text(result)


if __name__ == "__main__":
    main()
