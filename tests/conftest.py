"""Shared fixtures: real report files built in ``tmp_path`` with ``tests/builders.py``.

Test modules import the builders directly (``from builders import make_pdf``): pytest puts the
``tests`` directory on ``sys.path`` (rootdir-relative, no ``__init__.py``), and this conftest makes sure
of it for any import mode.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))

from builders import (  # noqa: E402
    make_docx,
    make_encrypted_pdf,
    make_pdf,
    make_scanned_pdf,
    write_text,
)

SHARED_DIR = TESTS_DIR.parents[1] / "shared"  # same as builders.SHARED_DIR

# A short feedback notice whose problems sit one per page, so page mapping can be checked.
REPORT_PAGES: list[list[str]] = [
    [
        "关于区委第七轮巡察反馈情况的通报",
        "区委第二巡察组对区农业农村局党组开展了常规巡察。",
        "区农业农村局党组存在的主要问题是：",
        "一是落实全面从严治党主体责任不到位，党组会议研究党风廉政建设工作次数偏少。",
    ],
    [
        "二是财务管理不规范，存在白条入账、公务接待超标准等问题。",
        "三是干部队伍建设有差距，年轻干部培养力度不够。",
    ],
    [
        "四是巡察整改工作滞后，上轮巡察反馈问题仍有3项未整改到位。",
        "区委巡察办",
        "2023年6月10日",
    ],
]

REPORT_TEXT = "\n".join(p for page in REPORT_PAGES for p in page) + "\n"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``/work/shared`` next to the repository; tests using it are skipped when it is missing."""
    if not SHARED_DIR.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DIR}")
    return SHARED_DIR


@pytest.fixture
def report_pages() -> list[list[str]]:
    return [list(page) for page in REPORT_PAGES]


@pytest.fixture
def report_text() -> str:
    return REPORT_TEXT


@pytest.fixture
def good_txt(tmp_path: Path) -> Path:
    return write_text(tmp_path / "good.txt", REPORT_TEXT, "utf-8")


@pytest.fixture
def good_pdf(tmp_path: Path) -> Path:
    return make_pdf(tmp_path / "good.pdf", REPORT_PAGES)


@pytest.fixture
def good_docx(tmp_path: Path) -> Path:
    return make_docx(tmp_path / "good.docx", [p for page in REPORT_PAGES for p in page])


@pytest.fixture
def encrypted_pdf(tmp_path: Path) -> Path:
    return make_encrypted_pdf(tmp_path / "encrypted.pdf")


@pytest.fixture
def scanned_pdf(tmp_path: Path) -> Path:
    return make_scanned_pdf(tmp_path / "scanned.pdf")
