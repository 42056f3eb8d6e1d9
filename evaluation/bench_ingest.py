"""Ingest speed: PDF backends (pages/s) and segmenters (MB/s) on the same inputs, in one run.

PDF input: every PDF in corpora/samples plus a synthetic report of the real dev and seed texts
rendered to a multi-page PDF (reportlab, built-in CJK font), so both backends read identical files.
Segmenter input: the real dev and seed texts (and the sample corpus text), repeated to ~1 MB.
Ratios are printed against the first row of each table (the baseline, run in the same process).

Usage: python evaluation/bench_ingest.py [--repeat N] [--mb 1.0]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from common import EVAL_DEV, SAMPLES, SEEDS, eval_dev_text

from nlp.extract.pdf import PdfBackend, extract_pdf


def real_texts() -> list[str]:
    texts = [eval_dev_text(p) for p in sorted((EVAL_DEV / "docs").glob("*.txt"))]
    texts += [p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))]
    return [t for t in texts if t.strip()]


def render_pdf(texts: list[str], path: Path, chars_per_line: int = 36, lines_per_page: int = 40) -> Path:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    c = canvas.Canvas(str(path), pagesize=A4, invariant=1)
    lines = []
    for text in texts:
        for para in text.split("\n"):
            para = para.strip()
            lines.extend(para[i : i + chars_per_line] for i in range(0, len(para), chars_per_line))
    for start in range(0, len(lines), lines_per_page):
        c.setFont("STSong-Light", 11)
        for k, line in enumerate(lines[start : start + lines_per_page]):
            c.drawString(50, 790 - 18 * k, line)
        c.showPage()
    c.save()
    return path


def bench_pdf(files: list[Path], repeat: int) -> None:
    datas = [(f, f.read_bytes()) for f in files]
    print(f"\nPDF extraction: {len(files)} files, {repeat} pass(es) each")
    print(f"{'backend':12s} {'pages':>7s} {'seconds':>8s} {'pages/s':>9s} {'ratio':>7s}  text vs baseline")
    baseline = None
    base_text: dict[Path, str] = {}
    for backend in (PdfBackend.PDFIUM, PdfBackend.PDFPLUMBER):
        pages = 0
        t0 = time.perf_counter()
        texts: dict[Path, str] = {}
        for _ in range(repeat):
            for f, data in datas:
                ex = extract_pdf(data, f.name, backend)
                pages += len(ex.pages)
                texts[f] = "".join(ex.text.split())
        dt = time.perf_counter() - t0
        rate = pages / dt
        baseline = baseline or rate
        if not base_text:
            base_text = texts
        same = sum(texts[f] == base_text[f] for f in texts)
        diff = sum(_char_diff(base_text[f], texts[f]) for f in texts)
        print(
            f"{backend.value:12s} {pages:7d} {dt:8.2f} {rate:9.1f} {rate / baseline:7.3f}  "
            f"{same}/{len(texts)} files identical, {diff} characters differ (whitespace aside)"
        )


def _char_diff(a: str, b: str) -> int:
    import difflib

    ops = difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    return sum(max(i2 - i1, j2 - j1) for tag, i1, i2, j1, j2 in ops if tag != "equal")


def bench_segmenters(mb: float) -> None:
    from nlp.segment import agreement, make_segmenter

    texts = real_texts()
    blob = "\n".join(texts)
    size = len(blob.encode("utf-8"))
    reps = max(1, int(mb * 1024 * 1024 / size))
    corpus = [t for _ in range(reps) for t in texts]
    total_mb = size * reps / 1024 / 1024
    print(f"\nSegmentation: {len(texts)} real texts x {reps} = {total_mb:.2f} MB of UTF-8")
    print(f"{'segmenter':12s} {'seconds':>8s} {'MB/s':>8s} {'ratio':>7s}")
    segs = [make_segmenter("jieba"), make_segmenter("rjieba")]
    for seg in segs:
        seg.cut(texts[0])  # load dictionaries outside the timing
    baseline = None
    for seg in segs:
        t0 = time.perf_counter()
        for t in corpus:
            seg.cut(t)
        dt = time.perf_counter() - t0
        rate = total_mb / dt
        baseline = baseline or rate
        print(f"{seg.name:12s} {dt:8.2f} {rate:8.2f} {rate / baseline:7.2f}")
    print(f"token agreement jieba vs rjieba on these texts: {agreement(segs[0], segs[1], texts):.4f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=2, help="passes over the PDF files per backend")
    ap.add_argument("--mb", type=float, default=1.0, help="megabytes of text to segment per segmenter")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        synthetic = render_pdf(real_texts(), Path(tmp) / "real_texts.pdf")
        files = sorted(SAMPLES.glob("*.pdf")) + [synthetic]
        bench_pdf(files, args.repeat)
    bench_segmenters(args.mb)


if __name__ == "__main__":
    main()
