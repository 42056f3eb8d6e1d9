"""Word 97 .doc, WPS .wps and RTF: converted to DOCX by headless LibreOffice, then read as a DOCX.

Inspection offices still send reports in these formats (WPS Office saves .wps/.doc by default on many
government machines). No maintained pure-Python reader handles them with the fidelity LibreOffice
has, so we run ``soffice --convert-to docx`` and hand the result to ``extract_docx``, which also
applies its zip-bomb checks to the converted package.

How the conversion is made safe to run inside the server:

* every conversion gets a fresh temporary folder holding the input (under a fixed ASCII name, so a
  client's file name never reaches a command line), the output and a private LibreOffice profile
  (``-env:UserInstallation``): a profile left locked by a killed soffice, or one in use by another
  conversion, would otherwise make soffice exit at once or hang;
* the import filter is named explicitly (``--infilter``): without it LibreOffice falls back to its
  plain-text import for a damaged file and "converts" binary junk into pages of garbage;
* the child gets a minimal environment (HOME and TMPDIR inside the temp folder, no DISPLAY, none of
  the server's secrets) and its own process group, so a timeout kills soffice *and* its helpers;
* one conversion at a time per machine (thread lock + file lock), see ``_conversion_slot``.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from filelock import FileLock

from nlp.errors import (
    ConversionFailedError,
    ConversionTimeoutError,
    ConverterMissingError,
    CorruptDocxError,
    UnsupportedTypeError,
)
from nlp.extract.docx import extract_docx
from nlp.model import ExtractedText, MediaType

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 120.0
DEBIAN_PACKAGE = "libreoffice-writer-nogui"
OUTPUT_FILTER = "docx:MS Word 2007 XML"
LOCK_FILE_NAME = "xuncha-soffice.lock"

_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_FIB_IDENT = b"\xec\xa5"  # wIdent 0xA5EC, the first bytes of a Word FIB (start of the WordDocument stream)
_FIB_WORD97 = 0x00C1  # nFib of Word 97; later versions write larger values, Word 6/95 smaller ones
_INPUT_STEM = "input"

# Held while a conversion runs in this process; the file lock does the same across processes.
_THREAD_LOCK = threading.Lock()


def check_legacy_office(data: bytes, source: str) -> None:
    """What the upload can be told at once: the bytes are RTF/OLE2 and a converter is installed.

    The conversion itself takes seconds and runs in the background job; refusing here when
    LibreOffice is missing spares the uploader a job that can only fail.
    """
    source_kind(data, source)
    find_converter(source)


def extract_legacy_office(data: bytes, source: str) -> ExtractedText:
    """Convert with LibreOffice and read the DOCX; reported as a DOC with ``converted_from``."""
    kind = source_kind(data, source)
    converter = find_converter(source)
    converted = convert_to_docx(data, kind, converter, source)
    try:
        extracted = extract_docx(converted, source)
    except CorruptDocxError as exc:  # LibreOffice wrote something python-docx cannot open
        raise ConversionFailedError("LibreOffice 转换结果无法读取", source=source) from exc
    return replace(
        extracted,
        media_type=MediaType.DOC,
        backend="libreoffice",
        metadata={**extracted.metadata, "converted_from": kind},
    )


def source_kind(data: bytes, source: str) -> str:
    """"rtf", "wps" or "doc", from the bytes (the name only tells a Kingsoft .wps from a .doc).

    The kind picks the input file's extension and ends up in the metadata; the import filter is
    chosen separately from the bytes (``_import_filter``).
    """
    if data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{\\rtf"):
        return "rtf"
    if data.startswith(_OLE2):
        return "wps" if source.lower().endswith(".wps") else "doc"
    raise UnsupportedTypeError("不支持的文件类型：既不是 Word 97/WPS（.doc/.wps）也不是 RTF 文件", source=source)


def find_converter(source: str | None = None) -> str:
    """The soffice executable: ``XUNCHA_SOFFICE`` (a path) if set, else soffice/libreoffice on PATH.

    A configured path that does not exist is an error, not a cue to look elsewhere: the operator
    asked for that binary, and silently using another one would hide the mistake.
    """
    configured = os.environ.get("XUNCHA_SOFFICE", "").strip()
    if configured:
        if os.path.isfile(configured) and os.access(configured, os.X_OK):
            return configured
        raise ConverterMissingError(
            f"XUNCHA_SOFFICE 指定的 LibreOffice 程序不存在或不可执行；转换 .doc/.wps/.rtf 需要 "
            f"LibreOffice（Debian 软件包 {DEBIAN_PACKAGE}）",
            source=source,
        )
    for name in ("soffice", "libreoffice"):
        found = shutil.which(name)
        if found:
            return found
    raise ConverterMissingError(
        f"转换 .doc/.wps/.rtf 需要 LibreOffice，本机未安装（请安装 Debian 软件包 {DEBIAN_PACKAGE}）", source=source
    )


def conversion_timeout_s() -> float:
    """``XUNCHA_CONVERT_TIMEOUT_S`` (seconds, read at each call so tests and operators can change it)."""
    raw = os.environ.get("XUNCHA_CONVERT_TIMEOUT_S", "").strip()
    try:
        value = float(raw) if raw else DEFAULT_TIMEOUT_S
    except ValueError:
        return DEFAULT_TIMEOUT_S
    return value if value > 0 else DEFAULT_TIMEOUT_S


def lock_path() -> Path:
    """The file every worker process locks around a conversion.

    In ``XUNCHA_DATA_DIR`` when set (the processes of one server share it), else in the system
    temp folder, named per user so another account's lock file cannot be unwritable for us.
    """
    data_dir = os.environ.get("XUNCHA_DATA_DIR", "").strip()
    if data_dir:
        folder = Path(data_dir)
        folder.mkdir(parents=True, exist_ok=True)
        return folder / LOCK_FILE_NAME
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return Path(tempfile.gettempdir()) / f"xuncha-soffice-{uid}.lock"


@contextmanager
def _conversion_slot() -> Iterator[None]:
    """One soffice at a time on this machine.

    A soffice conversion takes ~200 MB of memory (measured on a short report, more for a long one)
    and a full core for seconds. The server runs several worker processes with several job threads
    each, and a burst of .doc uploads would otherwise start that many soffice at once and push the
    machine into swap or the OOM killer. The thread lock serialises the threads of one process
    cheaply; the file lock (flock, released by the kernel if a process dies) serialises the
    processes. Waiting is not counted in the timeout.
    """
    with _THREAD_LOCK, FileLock(str(lock_path())):
        yield


def convert_to_docx(data: bytes, kind: str, converter: str, source: str) -> bytes:
    """The DOCX bytes LibreOffice makes of ``data``; raises the conversion errors."""
    timeout = conversion_timeout_s()
    with _conversion_slot(), tempfile.TemporaryDirectory(prefix="xuncha-soffice-") as tmp:
        work = Path(tmp)
        infile = work / f"{_INPUT_STEM}.{kind}"
        infile.write_bytes(data)
        outdir = work / "out"
        outdir.mkdir()
        args = _command(converter, work, infile, outdir, _import_filter(data, kind))
        started = time.monotonic()
        returncode = _run_converter(args, work, timeout, source)
        elapsed = time.monotonic() - started
        output = outdir / f"{_INPUT_STEM}.docx"
        if returncode != 0 or not output.is_file() or output.stat().st_size == 0:
            _log_failure(work / "soffice.log", returncode, source)
            detail = f"（退出码 {returncode}）" if returncode != 0 else "（文件可能已损坏，或不是 Word/WPS/RTF 文档）"
            raise ConversionFailedError(f"LibreOffice 无法转换此文件{detail}", source=source)
        log.debug("LibreOffice 转换 %s（%s）用时 %.1f 秒", source, kind, elapsed)
        return output.read_bytes()


def _import_filter(data: bytes, kind: str) -> str | None:
    """The LibreOffice import filter to force, or None to let its type detection choose.

    Forcing matters for damaged input: left to itself LibreOffice imports an unreadable .doc as
    plain text and succeeds. A Word 97-2003 file (Word, WPS Office) is recognised by the FIB at the
    start of its WordDocument stream; Word 6/95 files (older FIB) are left to type detection, which
    picks the right one of LibreOffice's WW6/WW7 filters; an OLE2 file without any FIB is tried as
    Microsoft Works (.wps), the one other OLE2 word-processor format LibreOffice reads.
    """
    if kind == "rtf":
        return "Rich Text Format"
    n_fib = _word_fib_version(data)
    if n_fib is None:
        return "MS_Works"
    return "MS Word 97" if n_fib >= _FIB_WORD97 else None


def _word_fib_version(data: bytes) -> int | None:
    """``nFib`` of the first Word FIB in an OLE2 file, or None when there is none.

    Streams start on 64-byte boundaries (512/4096-byte sectors, 64-byte mini sectors), so a FIB is
    looked for only there; this avoids parsing the compound file's directory for one number.
    """
    pos = data.find(_FIB_IDENT, len(_OLE2))
    while pos != -1:
        if pos % 64 == 0 and pos + 4 <= len(data):
            n_fib = int.from_bytes(data[pos + 2 : pos + 4], "little")
            if 0x0065 <= n_fib <= 0x0200:  # Word 6 (101) .. beyond Word 2007 (274)
                return n_fib
        pos = data.find(_FIB_IDENT, pos + 1)
    return None


def _command(converter: str, work: Path, infile: Path, outdir: Path, import_filter: str | None) -> list[str]:
    """soffice's arguments, as a list (never through a shell)."""
    args = [
        converter,
        f"-env:UserInstallation={(work / 'profile').as_uri()}",
        "--headless",
        "--norestore",
        "--nologo",
        "--nodefault",
        "--nolockcheck",
    ]
    if import_filter:
        args.append(f"--infilter={import_filter}")
    return [*args, "--convert-to", OUTPUT_FILTER, "--outdir", str(outdir), str(infile)]


def _child_env(work: Path) -> dict[str, str]:
    """A minimal environment: no display to connect to, no server secrets, caches in the temp folder."""
    return {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": str(work),
        "TMPDIR": str(work),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
    }


def _run_converter(args: list[str], work: Path, timeout: float, source: str) -> int:
    """Run soffice in its own session, output to a log file; its exit code, or a timeout error.

    The log file rather than pipes: a helper process that outlives soffice cannot keep us
    reading a pipe forever. On timeout (or any exception while waiting) the whole process group
    is killed, soffice.bin and oosplash included.
    """
    with (work / "soffice.log").open("wb") as out:
        try:
            proc = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                cwd=work, env=_child_env(work), start_new_session=True,
            )
        except FileNotFoundError as exc:
            raise ConverterMissingError(source=source) from exc
        except OSError as exc:
            raise ConversionFailedError("无法启动 LibreOffice 转换程序", source=source) from exc
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise ConversionTimeoutError(
                f"LibreOffice 转换超过 {timeout:g} 秒未完成，已终止", source=source
            ) from None
        finally:
            if proc.returncode is None:
                _kill_group(proc)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the child's process group and reap the child.

    SIGKILL, not SIGTERM: a hung soffice may ignore TERM, and its profile is thrown away anyway.
    The group is signalled before the child is reaped, so its id cannot have been reused.
    """
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def _log_failure(log_file: Path, returncode: int, source: str) -> None:
    """soffice's own words go to the server log, never into the user's message (they hold paths)."""
    try:
        tail = log_file.read_text("utf-8", errors="replace")[-2000:].strip()
    except OSError:
        tail = ""
    log.warning("LibreOffice 转换失败：%s，退出码 %s：%s", source, returncode, tail)
