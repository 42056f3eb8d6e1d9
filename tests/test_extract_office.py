"""Word 97 .doc, WPS .wps and RTF reports through LibreOffice, with the real converter and real files.

The .doc and .rtf files are made here: a DOCX built from a real report text (tests/builders.make_docx)
is converted by soffice itself, so the test exercises the same filters a WPS/Word export goes
through. Error paths use small fake converters (shell scripts in tmp_path) so that a timeout, a
crash or a missing output can be produced on demand. soffice must be installed (CI: .ci/install-office.sh);
without it the tests fail with a message saying so, they are never skipped.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from builders import make_docx, make_zip_bomb_docx
from conftest import REPORT_TEXT
from filelock import FileLock

from nlp.errors import XunchaError
from nlp.extract import check_bytes, extract_bytes, office
from nlp.extract.office import check_legacy_office, extract_legacy_office
from nlp.extract.sniff import sniff_media_type
from nlp.model import MediaType
from nlp.pipeline import analyze_bytes

REAL_REPORTS = ("09_tangyin_health_centers.txt", "12_pingyuan_health_units.txt")
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# The converter as the service would find it, looked up before any test changes the environment.
REAL_SOFFICE = os.environ.get("XUNCHA_SOFFICE") or shutil.which("soffice") or shutil.which("libreoffice")


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def paragraphs(text: str) -> list[str]:
    return [line for line in text.split("\n") if line.strip()]


def soffice_path() -> str:
    """The real soffice, or a test failure that says how to install it (never a skip)."""
    if not REAL_SOFFICE or not os.access(REAL_SOFFICE, os.X_OK):
        pytest.fail(
            "LibreOffice (soffice) 未安装：这些测试需要真实的转换程序。"
            "请运行 bash .ci/install-office.sh（apt-get install libreoffice-writer-nogui）",
            pytrace=False,
        )
    return REAL_SOFFICE


def soffice_convert(source: Path, target_format: str, outdir: Path) -> Path:
    """Convert ``source`` with the real soffice (test set-up: making .doc/.rtf from a DOCX)."""
    outdir.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            soffice_path(), f"-env:UserInstallation={(outdir / 'profile').as_uri()}", "--headless",
            "--norestore", "--convert-to", target_format, "--outdir", str(outdir), str(source),
        ],
        check=True, capture_output=True, timeout=180,
    )
    produced = outdir / f"{source.stem}.{target_format.split(':')[0]}"
    assert produced.is_file(), f"soffice did not write {produced.name}"
    return produced


def rtf_by_hand(lines: list[str]) -> bytes:
    """An RTF file as a minimal writer produces it: ASCII only, Chinese as \\uNNNN? escapes."""

    def escape(ch: str) -> str:
        code = ord(ch)
        if ch in "\\{}":
            return "\\" + ch
        if code < 128:
            return ch
        return f"\\u{code if code < 32768 else code - 65536}?"

    body = "\\par\n".join("".join(escape(ch) for ch in line) for line in lines)
    return f"{{\\rtf1\\ansi\\ansicpg936\\deff0{{\\fonttbl{{\\f0 SimSun;}}}}\\uc1\\f0\n{body}\\par\n}}".encode("ascii")


def fake_converter(tmp_path: Path, body: str, name: str = "fake-soffice") -> Path:
    """A small executable shell script standing in for soffice."""
    script = tmp_path / name
    script.write_text("#!/bin/sh\n" + body + "\n", encoding="utf-8")
    script.chmod(0o755)
    return script


def copying_converter(tmp_path: Path, docx: Path, log: Path | None = None) -> Path:
    """A fake soffice that 'converts' by copying ``docx`` to the --outdir, logging its args and env."""
    record = f'printf "%s\\n" "$@" > "{log}"; env > "{log}.env"\n' if log else ""
    return fake_converter(
        tmp_path,
        record + 'while [ "$#" -gt 0 ]; do [ "$1" = "--outdir" ] && out="$2"; last="$1"; shift; done\n'
        f'cp "{docx}" "$out/$(basename "${{last%.*}}").docx"',
        name="copying-soffice",
    )


def process_gone(pid: int) -> bool:
    """True when ``pid`` no longer runs (an unreaped zombie counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def processes_mentioning(needle: str) -> list[int]:
    """Live processes whose command line contains ``needle``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\x00", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if needle in cmdline and not process_gone(int(entry.name)):
            found.append(int(entry.name))
    return found


def expect_code(code: str, call: Callable[[], object]) -> XunchaError:
    with pytest.raises(XunchaError) as info:
        call()
    assert info.value.code == code, f"{info.value.code}: {info.value.message}"
    return info.value


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def real_soffice() -> str:
    return soffice_path()


@pytest.fixture(scope="module")
def report_files(real_soffice: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Path]]:
    """For each real report: its .txt and a .doc and .rtf converted by soffice from a DOCX of it."""
    shared = Path(__file__).resolve().parents[2] / "shared" / "eval-dev-2" / "docs"
    if not shared.is_dir():
        pytest.skip(f"shared report texts not found at {shared}")
    work = tmp_path_factory.mktemp("office")
    files: dict[str, dict[str, Path]] = {}
    for name in REAL_REPORTS:
        txt = shared / name
        docx = make_docx(work / f"{txt.stem}.docx", paragraphs(txt.read_text("utf-8")))
        files[name] = {
            "txt": txt,
            "doc": soffice_convert(docx, "doc", work / "doc"),
            "rtf": soffice_convert(docx, "rtf", work / "rtf"),
        }
    return files


@pytest.fixture(scope="module")
def small_doc(real_soffice: str, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A short .doc (conftest's feedback notice) converted by soffice."""
    work = tmp_path_factory.mktemp("notice")
    docx = make_docx(work / "notice.docx", paragraphs(REPORT_TEXT))
    return soffice_convert(docx, "doc", work / "doc").read_bytes()


@pytest.fixture(autouse=True)
def private_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test locks its own file (so a test holding the lock cannot stall the others) and uses
    the real converter unless it installs a fake one."""
    monkeypatch.setenv("XUNCHA_DATA_DIR", str(tmp_path / "data"))
    if REAL_SOFFICE:
        monkeypatch.setenv("XUNCHA_SOFFICE", REAL_SOFFICE)
    monkeypatch.delenv("XUNCHA_CONVERT_TIMEOUT_S", raising=False)


# ---------------------------------------------------------------- real reports


@pytest.mark.parametrize("name", REAL_REPORTS)
def test_doc_yields_the_findings_of_the_text(report_files: dict[str, dict[str, Path]], name: str) -> None:
    files = report_files[name]
    expected = [f.text for f in analyze_bytes(files["txt"].read_bytes(), name).findings]
    started = time.monotonic()
    report = analyze_bytes(files["doc"].read_bytes(), "报告.doc")
    elapsed = time.monotonic() - started
    got = {f.text for f in report.findings}
    same = sum(1 for text in expected if text in got)
    assert expected and same >= 0.85 * len(expected), f"{same}/{len(expected)} findings kept"
    assert elapsed < 60


def test_extracted_doc_is_reported_as_doc_from_libreoffice(report_files: dict[str, dict[str, Path]]) -> None:
    files = report_files[REAL_REPORTS[0]]
    extracted = extract_bytes(files["doc"].read_bytes(), "报告.doc")
    assert extracted.media_type is MediaType.DOC
    assert extracted.backend == "libreoffice"
    assert extracted.metadata["converted_from"] == "doc"
    assert squash(extracted.text) == squash(files["txt"].read_text("utf-8"))


def test_same_doc_named_wps_works(report_files: dict[str, dict[str, Path]]) -> None:
    files = report_files[REAL_REPORTS[0]]
    data = files["doc"].read_bytes()
    assert sniff_media_type(data, "报告.wps") is MediaType.DOC
    extracted = extract_legacy_office(data, "报告.wps")
    assert extracted.metadata["converted_from"] == "wps"
    assert squash(extracted.text) == squash(files["txt"].read_text("utf-8"))


def test_rtf_converted_by_soffice_yields_the_findings(report_files: dict[str, dict[str, Path]]) -> None:
    files = report_files[REAL_REPORTS[0]]
    data = files["rtf"].read_bytes()
    assert sniff_media_type(data, "报告.rtf") is MediaType.DOC
    expected = [f.text for f in analyze_bytes(files["txt"].read_bytes(), "报告.txt").findings]
    report = analyze_bytes(data, "报告.rtf")
    assert [f.text for f in report.findings] == expected


def test_rtf_written_by_hand_with_unicode_escapes(real_soffice: str) -> None:
    data = rtf_by_hand(paragraphs(REPORT_TEXT))
    assert sniff_media_type(data, "notice.rtf") is MediaType.DOC
    extracted = extract_legacy_office(data, "notice.rtf")
    assert extracted.metadata["converted_from"] == "rtf"
    assert squash(extracted.text) == squash(REPORT_TEXT)
    expected = [f.text for f in analyze_bytes(REPORT_TEXT.encode("utf-8"), "notice.txt").findings]
    assert len(expected) >= 4
    assert [f.text for f in analyze_bytes(data, "notice.rtf").findings] == expected


def test_check_bytes_accepts_doc_without_converting(small_doc: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_conversion(*args: object) -> bytes:
        raise AssertionError("check_bytes must not convert")

    monkeypatch.setattr(office, "convert_to_docx", no_conversion)
    assert check_bytes(small_doc, "notice.doc") is MediaType.DOC


# ---------------------------------------------------------------- errors


def test_configured_converter_missing(small_doc: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XUNCHA_SOFFICE", str(tmp_path / "no-such-soffice"))
    for call in (lambda: check_legacy_office(small_doc, "a.doc"), lambda: extract_legacy_office(small_doc, "a.doc")):
        error = expect_code("converter_missing", call)
        assert "libreoffice-writer-nogui" in error.message
    expect_code("converter_missing", lambda: check_bytes(small_doc, "a.doc"))


def test_no_converter_on_path(small_doc: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.delenv("XUNCHA_SOFFICE")
    monkeypatch.setenv("PATH", str(empty))
    for call in (lambda: check_legacy_office(small_doc, "a.doc"), lambda: extract_bytes(small_doc, "a.doc")):
        error = expect_code("converter_missing", call)
        assert "libreoffice-writer-nogui" in error.message


def test_hanging_converter_times_out_and_is_killed(
    small_doc: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pids = tmp_path / "pids"
    script = fake_converter(tmp_path, f'sleep 30 &\necho "$$ $!" > "{pids}"\nwait')
    monkeypatch.setenv("XUNCHA_SOFFICE", str(script))
    monkeypatch.setenv("XUNCHA_CONVERT_TIMEOUT_S", "1")
    started = time.monotonic()
    expect_code("conversion_timeout", lambda: extract_legacy_office(small_doc, "a.doc"))
    assert time.monotonic() - started < 6
    shell_pid, sleep_pid = (int(p) for p in pids.read_text().split())
    deadline = time.monotonic() + 3
    while not (process_gone(shell_pid) and process_gone(sleep_pid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process_gone(shell_pid) and process_gone(sleep_pid), "converter's process group left running"


def test_real_soffice_killed_on_timeout_leaves_no_process(
    small_doc: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """soffice starts oosplash and soffice.bin; a timeout during start-up must take them all down."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))  # our conversion's folder, and only it
    (tmp_path / "tmp").mkdir()
    monkeypatch.setenv("XUNCHA_CONVERT_TIMEOUT_S", "0.7")
    expect_code("conversion_timeout", lambda: extract_legacy_office(small_doc, "a.doc"))
    deadline = time.monotonic() + 3
    while processes_mentioning(str(tmp_path)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not processes_mentioning(str(tmp_path)), "soffice processes left running"
    assert not any((tmp_path / "tmp").iterdir()), "temporary folder left behind"


def test_failing_converter(small_doc: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XUNCHA_SOFFICE", str(fake_converter(tmp_path, "echo '/secret/path boom' >&2\nexit 1")))
    error = expect_code("conversion_failed", lambda: extract_legacy_office(small_doc, "a.doc"))
    assert "/secret/path" not in error.message


def test_converter_writing_nothing_fails(small_doc: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XUNCHA_SOFFICE", str(fake_converter(tmp_path, "exit 0")))
    expect_code("conversion_failed", lambda: extract_legacy_office(small_doc, "a.doc"))


def test_ole2_header_with_junk_fails(real_soffice: str) -> None:
    junk = OLE2_MAGIC + bytes((i * 7919 + 13) % 251 for i in range(8000))
    assert sniff_media_type(junk, "junk.doc") is MediaType.DOC
    expect_code("conversion_failed", lambda: extract_legacy_office(junk, "junk.doc"))


def test_converted_zip_bomb_is_refused(small_doc: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bomb = make_zip_bomb_docx(tmp_path / "bomb.docx")
    monkeypatch.setenv("XUNCHA_SOFFICE", str(copying_converter(tmp_path, bomb)))
    expect_code("docx_too_large", lambda: extract_legacy_office(small_doc, "a.doc"))


# ---------------------------------------------------------------- how soffice is run


def test_command_line_and_environment(small_doc: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    docx = make_docx(tmp_path / "out.docx", ["巡察发现的问题：", "一是党建工作不到位。"])
    args_log = tmp_path / "args"
    monkeypatch.setenv("XUNCHA_SOFFICE", str(copying_converter(tmp_path, docx, args_log)))
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.setenv("XUNCHA_SECRET_KEY", "hunter2")
    extracted = extract_legacy_office(small_doc, "../../etc/报告 $(rm -rf).doc")
    assert "一是党建工作不到位" in extracted.text
    args = args_log.read_text().splitlines()
    env = dict(line.split("=", 1) for line in (tmp_path / "args.env").read_text().splitlines() if "=" in line)
    profile = next(a for a in args if a.startswith("-env:UserInstallation=file://"))
    work = Path(args[args.index("--outdir") + 1]).parent
    assert profile.removeprefix("-env:UserInstallation=file://").startswith(str(work))
    for flag in ("--headless", "--norestore", "--nologo", "--nodefault", "--nolockcheck", "--infilter=MS Word 97"):
        assert flag in args
    assert args[args.index("--convert-to") + 1] == "docx:MS Word 2007 XML"
    assert args[-1] == str(work / "input.doc")
    assert env["HOME"] == str(work)
    assert "DISPLAY" not in env and "XUNCHA_SECRET_KEY" not in env
    assert not work.exists(), "temporary folder left behind"


def test_input_extension_follows_the_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    docx = make_docx(tmp_path / "out.docx", ["巡察发现的问题"])
    args_log = tmp_path / "args"
    monkeypatch.setenv("XUNCHA_SOFFICE", str(copying_converter(tmp_path, docx, args_log)))
    rtf = rtf_by_hand(["巡察发现的问题"])
    assert extract_legacy_office(rtf, "报告.doc").metadata["converted_from"] == "rtf"  # name says .doc
    args = args_log.read_text().splitlines()
    assert args[-1].endswith("/input.rtf") and "--infilter=Rich Text Format" in args


def test_timeout_setting_is_read_at_call_time(monkeypatch: pytest.MonkeyPatch) -> None:
    assert office.conversion_timeout_s() == office.DEFAULT_TIMEOUT_S
    monkeypatch.setenv("XUNCHA_CONVERT_TIMEOUT_S", "7.5")
    assert office.conversion_timeout_s() == 7.5
    monkeypatch.setenv("XUNCHA_CONVERT_TIMEOUT_S", "soon")
    assert office.conversion_timeout_s() == office.DEFAULT_TIMEOUT_S


# ---------------------------------------------------------------- one conversion at a time


def test_two_threads_at_once_are_serialised(small_doc: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    intervals: list[tuple[float, float]] = []
    real_run = office._run_converter

    def timed_run(*args: object, **kwargs: object) -> int:
        started = time.monotonic()
        try:
            return real_run(*args, **kwargs)  # type: ignore[arg-type]
        finally:
            intervals.append((started, time.monotonic()))

    monkeypatch.setattr(office, "_run_converter", timed_run)
    results: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def convert(name: str) -> None:
        barrier.wait()
        try:
            results.append(extract_legacy_office(small_doc, name).text)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=convert, args=(f"{k}.doc",)) for k in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors
    assert len(results) == 2 and all(squash(r) == squash(REPORT_TEXT) for r in results)
    (a_start, a_end), (b_start, b_end) = sorted(intervals)
    assert a_end <= b_start, "two soffice ran at the same time"


def test_conversion_waits_for_the_cross_process_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    docx = make_docx(tmp_path / "out.docx", ["巡察发现的问题"])
    monkeypatch.setenv("XUNCHA_SOFFICE", str(copying_converter(tmp_path, docx)))
    assert office.lock_path() == tmp_path / "data" / office.LOCK_FILE_NAME
    other_process = FileLock(str(office.lock_path()))  # another fd: flock conflicts as across processes
    other_process.acquire()
    done = threading.Event()
    worker = threading.Thread(target=lambda: (extract_legacy_office(rtf_by_hand(["巡察"]), "a.rtf"), done.set()))
    try:
        worker.start()
        assert not done.wait(1.0), "conversion ran while another process held the lock"
    finally:
        other_process.release()
    worker.join(timeout=30)
    assert done.is_set()
    assert os.path.exists(office.lock_path())
