"""Every format an office has, on real texts: the findings each format yields against the plain text.

For each real report of a set (default ``../shared/eval-dev-2``), the same text is made into the files
offices send and analysed end to end (``nlp.pipeline.analyze_bytes``):

- ``txt``: the text itself, the baseline;
- ``scan``: a scanned PDF (A4 pages rendered at 200 dpi, 0.8° skew, speckles and grain, JPEG quality
  55, no text layer) read by OCR; its text is also scored against the source (character accuracy,
  whitespace and punctuation ignored);
- ``png``: each page as a PNG photo of the page, analysed one by one (an office sends a page at a
  time), findings pooled;
- ``doc``: a Word 97 .doc converted by LibreOffice from a DOCX of the paragraphs;
- ``ofd``: an OFD laid out 30 characters a line, 28 lines a page, page numbers at the foot.

A finding of the text counts as yielded by a format when a finding of that format has the same text
once whitespace and punctuation are dropped, or one contains the other, or they match ≥ 0.85
character for character (OCR misreads a character or two). Prints per format: yield (found / txt
findings), documents, seconds, and the yield by script (简: Simplified texts, 繁: the Traditional-script
mirror copies, which OCR once read far worse); and the scan's character accuracy. ``--formats`` picks
formats, ``--script traditional`` (or ``simplified``) the documents of one script, ``--limit`` the first
N documents; OCR costs 2–3 s a page on 2 idle cores (eval-dev-2: ~6 minutes).

The page renderers and the OFD writer are the test suite's (``tests/ocr_builders.py``,
``tests/ofd_builder.py``): the same files the tests assert on.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from builders import make_docx  # noqa: E402
from ocr_builders import (  # noqa: E402
    PageStyle,
    char_accuracy,
    degrade,
    image_bytes,
    layout_lines,
    render_page,
    scanned_pdf_bytes,
)
from ofd_builder import build_ofd, lay_out  # noqa: E402

from nlp.extract import extract_bytes  # noqa: E402
from nlp.pipeline import analyze_bytes, analyze_extracted  # noqa: E402
from nlp.script import to_simplified  # noqa: E402

FORMATS = ("scan", "png", "doc", "ofd")
_DROP = re.compile(r"[\s\W_]+", re.UNICODE)
A4 = PageStyle(size_mm=(210.0, 297.0), dpi=200, font_pt=12.0, margin_mm=25.0)


def squash(text: str) -> str:
    return _DROP.sub("", text)


def body_of(path: Path) -> list[str]:
    """The report's paragraphs without the corpus' SOURCE:/DATE: lines."""
    lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines()]
    return [ln for ln in lines if ln and not ln.startswith(("SOURCE:", "DATE:"))]


def script_of(paragraphs: list[str]) -> str:
    """繁 when more than 5% of the characters change from Traditional to Simplified, else 简."""
    text = "".join(paragraphs)
    changed = sum(1 for a, b in zip(text, to_simplified(text), strict=True) if a != b)
    return "繁" if changed > 0.05 * max(1, len(text)) else "简"


def pages_of(paragraphs: list[str], style: PageStyle) -> list[list[str]]:
    """Paragraphs broken into pages of ``style``: a page takes whole paragraphs while they fit (a
    paragraph longer than a page gets a page of its own and is cut by the renderer — rare)."""
    rows = int((style.size_mm[1] - 2 * style.margin_mm) / 25.4 * style.dpi // round(style.font_pt / 72 * style.dpi * style.line_spacing))
    pages: list[list[str]] = [[]]
    used = 0
    for paragraph in paragraphs:
        need = len(layout_lines([paragraph], style))
        if pages[-1] and used + need > rows - 2:  # two rows for the page number
            pages.append([])
            used = 0
        pages[-1].append(paragraph)
        used += need
    return pages


def page_images(paragraphs: list[str]) -> list:
    pages = pages_of(paragraphs, A4)
    return [degrade(render_page(p, A4, page_number=f"— {i} —"), seed=i) for i, p in enumerate(pages, 1)]


def doc_bytes(paragraphs: list[str], work: Path) -> bytes:
    """A Word 97 .doc of the paragraphs, converted by LibreOffice from a DOCX (as an office's old files)."""
    converter = shutil.which("soffice") or shutil.which("libreoffice")
    if converter is None:
        raise SystemExit("需要 LibreOffice（Debian 软件包 libreoffice-writer-nogui）来生成 .doc")
    source = make_docx(work / "report.docx", paragraphs)
    subprocess.run(
        [converter, "--headless", "--norestore", f"-env:UserInstallation=file://{work / 'profile'}",
         "--convert-to", "doc", "--outdir", str(work), str(source)],
        check=True, capture_output=True, timeout=180,
    )
    return (work / "report.doc").read_bytes()


def yielded(wanted: list[str], got: list[str]) -> int:
    pool = [squash(g) for g in got]
    count = 0
    for w in (squash(t) for t in wanted):
        if any(w == g or (w and g and (w in g or g in w)) or difflib.SequenceMatcher(None, w, g).ratio() >= 0.85 for g in pool):
            count += 1
    return count


def make_files(fmt: str, path: Path, paragraphs: list[str], images: list, work: Path) -> list[tuple[bytes, str]]:
    """The file(s) of one report in ``fmt``, with the names an office would give them."""
    if fmt == "scan":
        return [(scanned_pdf_bytes(images), f"{path.stem}.pdf")]
    if fmt == "png":
        return [(image_bytes(im, "PNG"), f"{path.stem}-{i}.png") for i, im in enumerate(images, 1)]
    if fmt == "doc":
        return [(doc_bytes(paragraphs, work), f"{path.stem}.doc")]
    if fmt == "ofd":
        return [(build_ofd(lay_out(paragraphs, lines_per_page=28, page_numbers=True)), f"{path.stem}.ofd")]
    raise SystemExit(f"未知格式：{fmt}（可选 {','.join(FORMATS)}）")


def texts(data: bytes, name: str) -> list[str]:
    return [f.text for f in analyze_bytes(data, name, tagger=None).findings]


def score(docs: list[Path], formats: list[str]) -> dict[str, object]:
    totals = {f: {"found": 0, "seconds": 0.0, "documents": 0, "failed": 0} for f in formats}
    by_script: dict[str, dict[str, int]] = {}
    wanted_total, accuracies = 0, []
    for path in docs:
        paragraphs = body_of(path)
        plain_bytes = "\n".join(paragraphs).encode("utf-8")
        wanted = texts(plain_bytes, path.name)
        wanted_total += len(wanted)
        script = by_script.setdefault(script_of(paragraphs), {"txt": 0, **{f: 0 for f in formats}})
        script["txt"] += len(wanted)
        images = page_images(paragraphs) if {"scan", "png"} & set(formats) else []
        with tempfile.TemporaryDirectory() as tmp:
            line = []
            for fmt in formats:
                before = int(totals[fmt]["found"])
                files = make_files(fmt, path, paragraphs, images, Path(tmp))
                started = time.monotonic()
                got: list[str] = []
                try:
                    for data, name in files:
                        extracted = extract_bytes(data, name)  # once: OCR is the cost
                        got.extend(f.text for f in analyze_extracted(extracted, None).findings)
                        if fmt == "scan":
                            accuracies.append(char_accuracy("".join(paragraphs), extracted.text))
                except Exception as exc:  # a refused file is a result: counted, named, the run goes on
                    totals[fmt]["failed"] += 1  # type: ignore[operator]
                    print(f"  {path.name} {fmt}: {type(exc).__name__}: {exc}", file=sys.stderr)
                totals[fmt]["seconds"] += time.monotonic() - started  # type: ignore[operator]
                found = yielded(wanted, got)
                totals[fmt]["found"] += found  # type: ignore[operator]
                script[fmt] += found
                totals[fmt]["documents"] += 1  # type: ignore[operator]
                line.append(f"{fmt} {int(totals[fmt]['found']) - before}")
        print(f"{path.name}: {len(wanted)} findings as .txt; " + ", ".join(line), file=sys.stderr)
    out: dict[str, object] = {"documents": len(docs), "txt_findings": wanted_total, "by_script": by_script}
    for fmt in formats:
        t = totals[fmt]
        out[fmt] = {**t, "yield": round(int(t["found"]) / max(1, wanted_total), 3), "seconds": round(float(t["seconds"]), 1)}
    if accuracies:
        out["scan_char_accuracy"] = {"mean": round(sum(accuracies) / len(accuracies), 4), "min": round(min(accuracies), 4)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description="各种格式（扫描件、图片、DOC、OFD）相对纯文本的问题提取率")
    parser.add_argument("set", nargs="?", default=str(ROOT.parent / "shared" / "eval-dev-2"), help="含 docs/*.txt 的评测集目录")
    parser.add_argument("--formats", default=",".join(FORMATS), help="逗号分隔：scan,png,doc,ofd")
    parser.add_argument("--script", choices=("all", "simplified", "traditional"), default="all",
                        help="只取简体（simplified）或繁体（traditional）文档")
    parser.add_argument("--limit", type=int, default=0, help="只取前 N 个文档（0：全部）")
    parser.add_argument("--format", dest="output", choices=("text", "json"), default="text")
    args = parser.parse_args()
    docs = sorted((Path(args.set) / "docs").glob("*.txt"))
    if args.script != "all":
        wanted_script = "繁" if args.script == "traditional" else "简"
        docs = [d for d in docs if script_of(body_of(d)) == wanted_script]
    if args.limit:
        docs = docs[: args.limit]
    if not docs:
        raise SystemExit(f"没有找到文档：{args.set}/docs/*.txt")
    result = score(docs, [f for f in args.formats.split(",") if f])
    if args.output == "json":
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return
    print(f"{Path(args.set).name}: {result['documents']} documents, {result['txt_findings']} findings as .txt")
    for fmt in FORMATS:
        if fmt in result:
            r = result[fmt]
            assert isinstance(r, dict)
            scripts = result["by_script"]
            assert isinstance(scripts, dict)
            split = ", ".join(f"{name} {counts[fmt]}/{counts['txt']}" for name, counts in sorted(scripts.items()))
            print(f"  {fmt:4s} yield {r['yield']:.3f} ({r['found']}/{result['txt_findings']}; {split}), "
                  f"{r['failed']} refused, {r['seconds']} s")
    if "scan_char_accuracy" in result:
        acc = result["scan_char_accuracy"]
        assert isinstance(acc, dict)
        print(f"  scan character accuracy: mean {acc['mean']:.4f}, min {acc['min']:.4f}")


if __name__ == "__main__":
    main()
