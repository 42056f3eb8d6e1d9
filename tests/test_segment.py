"""Segmentation: domain terms stay whole, offsets are exact, backends agree, optional ones fail cleanly.

Real texts come from ``/work/shared`` (the seeds and the eval-dev documents); those tests are
skipped when the folder is missing. Nothing here downloads or needs HanLP: its error paths and
loading are checked against a fake ``hanlp`` module.
"""

from __future__ import annotations

import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

from nlp.errors import BackendUnavailableError
from nlp.segment import (
    JIEBA_WORD,
    USER_DICT_PATH,
    HanLPSegmenter,
    JiebaSegmenter,
    RJiebaSegmenter,
    Segmenter,
    SegmenterName,
    UnknownSegmenterError,
    UserDictError,
    agreement,
    align_tokens,
    clear_segmenter_cache,
    content_tokens,
    disagreements,
    load_stopwords,
    make_segmenter,
    read_user_dict,
)

REPO_DIR = Path(__file__).resolve().parents[1]
SHARED_DIR = REPO_DIR.parent / "shared"
BACKENDS = [SegmenterName.JIEBA, SegmenterName.RJIEBA]


def read_real_texts() -> list[tuple[str, str]]:
    """(name, text) of every seed and eval-dev document; eval-dev files start with SOURCE/DATE lines."""
    texts = [(p.name, p.read_text(encoding="utf-8")) for p in sorted((SHARED_DIR / "seeds").glob("*.txt"))]
    for p in sorted((SHARED_DIR / "eval-dev" / "docs").glob("*.txt")):
        texts.append((p.name, p.read_text(encoding="utf-8").split("\n", 2)[2]))
    return texts


REAL_TEXTS = read_real_texts() if SHARED_DIR.is_dir() else []
REAL_PARAMS = [pytest.param(text, id=name) for name, text in REAL_TEXTS] or [
    pytest.param("", marks=pytest.mark.skip(reason=f"shared data not found at {SHARED_DIR}"))
]
needs_shared = pytest.mark.skipif(not REAL_TEXTS, reason=f"shared data not found at {SHARED_DIR}")


@pytest.fixture(params=BACKENDS, ids=str)
def segmenter(request: pytest.FixtureRequest) -> Segmenter:
    return make_segmenter(request.param)


@pytest.fixture
def fresh_cache():
    """make_segmenter with an empty cache, restored afterwards so other tests keep theirs."""
    clear_segmenter_cache()
    yield
    clear_segmenter_cache()


# --- golden tables ------------------------------------------------------------------------

GOLDEN: list[tuple[str, list[str]]] = [
    ("违规发放津补贴", ["违规", "发放", "津补贴"]),
    ("落实“第一议题”制度不到位", ["落实", "“", "第一议题", "”", "制度", "不到位"]),
    ("“三重一大”事项未经集体研究", ["“", "三重一大", "”", "事项", "未经", "集体研究"]),
    ("低保评定中存在优亲厚友问题", ["低保", "评定", "中", "存在", "优亲厚友", "问题"]),
    ("群众身边的微腐败和蝇贪蚁腐问题", ["群众", "身边", "的", "微腐败", "和", "蝇贪蚁腐", "问题"]),
    ("防止小官巨贪，严惩村霸和保护伞", ["防止", "小官巨贪", "，", "严惩", "村霸", "和", "保护伞"]),
    (
        "落实全面从严治党主体责任和监督责任不到位",
        ["落实", "全面从严治党", "主体责任", "和", "监督责任", "不到位"],
    ),
    ("一把手履行第一责任人职责不够到位", ["一把手", "履行", "第一责任人", "职责", "不够到位"]),
    (
        "违反中央八项规定精神，超标准接待、公车私用",
        ["违反", "中央八项规定精神", "，", "超标准接待", "、", "公车私用"],
    ),
    (
        "存在白条入账、坐收坐支、化整为零规避招标等问题",
        ["存在", "白条入账", "、", "坐收坐支", "、", "化整为零", "规避招标", "等", "问题"],
    ),
    (
        "巡察整改做好后半篇文章，建立整改台账，对账销号",
        ["巡察整改", "做好", "后半篇文章", "，", "建立", "整改台账", "，", "对账销号"],
    ),
    (
        "给予党纪政务处分47人，移送司法机关3人",
        ["给予", "党纪政务处分", "47", "人", "，", "移送司法机关", "3", "人"],
    ),
    ("农村集体“三资”管理不规范", ["农村", "集体", "“", "三资", "”", "管理", "不", "规范"]),
    (
        "基层党组织软弱涣散，三会一课制度落实不到位",
        ["基层党组织", "软弱涣散", "，", "三会一课", "制度", "落实", "不到位"],
    ),
    ("选人用人把关不严", ["选人用人", "把关不严"]),
    (
        "区委巡察办对被巡察单位开展“回头看”",
        ["区委", "巡察办", "对", "被巡察单位", "开展", "“", "回头看", "”"],
    ),
    ("纪委监委、政法委、统战部", ["纪委监委", "、", "政法委", "、", "统战部"]),
    # Brackets split words before the dictionary is consulted: 村（社区） is never one token.
    ("村（社区）党组织", ["村", "（", "社区", "）", "党组织"]),
]

# Terms the project relies on as single tokens, each checked inside typical report sentences.
DOMAIN_TERMS = """
三个聚焦 两个维护 四个意识 四个自信 四个落实 回头看 微腐败 蝇贪蚁腐 小官巨贪 村霸 保护伞 津补贴 三资 一把手 四风
问题线索 优亲厚友 后半篇文章 主体责任 监督责任 两个责任 一岗双责 第一议题 三重一大 民主集中制 三会一课 软弱涣散
选人用人 八项规定 中央八项规定精神 形式主义 官僚主义 享乐主义 奢靡之风 意识形态 巡察组 巡察办 被巡察单位 整改台账
对账销号 立行立改 问题清单 党纪政务处分 诫勉谈话 移送司法机关 吃拿卡要 公车私用 超标准接待 白条入账 坐收坐支 化整为零
规避招标 低保 特困供养 乡村振兴 脱贫攻坚 防止返贫 四议两公开 村务公开 医保基金 保教减免 粮食购销 征地拆迁 棚户区改造
公租房 专项巡察 机动巡察 交叉巡察 提级巡察 联动巡察 常规巡察 延伸巡察 纪委监委 区委办 县委办 政法委 统战部 党组 党工委
""".split()
CARRIERS = ["{}", "存在{}问题", "加强{}工作", "对{}进行", "落实“{}”制度", "以及{}等", "{}不到位"]


@pytest.mark.parametrize("text,expected", GOLDEN)
def test_segment_golden(segmenter: Segmenter, text: str, expected: list[str]) -> None:
    assert segmenter.cut(text) == expected


@pytest.mark.parametrize("term", DOMAIN_TERMS)
def test_segment_domain_term_stays_whole(segmenter: Segmenter, term: str) -> None:
    for carrier in CARRIERS:
        sentence = carrier.format(term)
        assert term in segmenter.cut(sentence), (sentence, segmenter.cut(sentence))


def test_segment_without_user_dict_splits_terms(tmp_path: Path) -> None:
    """Control for the golden tables: plain jieba does split these, so the dictionary is what helps."""
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    plain = JiebaSegmenter(user_dict=empty)
    assert plain.cut("三重一大") == ["三重", "一大"]
    assert "津补贴" not in plain.cut("违规发放津补贴")


# --- offsets ------------------------------------------------------------------------------


def assert_offsets_exact(text: str, tokens: list[tuple[str, int, int]]) -> None:
    cursor = 0
    for tok, start, end in tokens:
        assert start == cursor and text[start:end] == tok, (tok, start, end)
        cursor = end
    assert cursor == len(text)


@pytest.mark.parametrize("text", REAL_PARAMS)
def test_segment_offsets_reconstruct_real_text(segmenter: Segmenter, text: str) -> None:
    tokens = segmenter.tokens(text)
    assert_offsets_exact(text, tokens)
    assert [t for t, _, _ in tokens] == segmenter.cut(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "a\r\nb  c\t\u3000d",
        "𠀀𠀁测试𪚥abc",
        "GDP增长12.5%，3.2万元",
        "  前导空格\n\n尾部 ",
        "巡察......交付",
    ],
    ids=["empty", "whitespace", "non-bmp", "numbers", "edges", "dots"],
)
def test_segment_offsets_edge_cases(segmenter: Segmenter, text: str) -> None:
    assert_offsets_exact(text, segmenter.tokens(text))


# --- dictionaries -------------------------------------------------------------------------


def test_user_dict_entries_well_formed() -> None:
    lines = USER_DICT_PATH.read_text(encoding="utf-8").splitlines()
    entries = read_user_dict()
    assert len(entries) >= 300
    assert len(entries) == len(lines), "no blank lines"
    assert len({e.word for e in entries}) == len(entries), "no duplicates"
    for line, entry in zip(lines, entries, strict=True):
        assert line == f"{entry.word} {entry.freq} {entry.tag}", line
        assert JIEBA_WORD.fullmatch(entry.word), entry.word
        assert entry.tag in {"nz", "nt", "l"}, line


@pytest.mark.parametrize(
    "bad_line",
    ["# 注释", "村（社区） 10 nz", "三重一大 10 nz extra", "三重一大 0 nz", "三重一大 10 NZ"],
    ids=["comment", "brackets", "four-columns", "zero-freq", "upper-tag"],
)
def test_user_dict_bad_line_names_the_line(tmp_path: Path, bad_line: str) -> None:
    path = tmp_path / "dict.txt"
    path.write_text(f"三重一大 10 nz\n{bad_line}\n", encoding="utf-8")
    with pytest.raises(UserDictError) as info:
        read_user_dict(path)
    assert info.value.code == "bad_user_dict"
    assert info.value.source == f"{path}:2"


def test_user_dict_override(tmp_path: Path) -> None:
    path = tmp_path / "dict.txt"
    path.write_text("巡察小蜜蜂 5 nz\n", encoding="utf-8")
    for cls in (JiebaSegmenter, RJiebaSegmenter):
        assert "巡察小蜜蜂" in cls(user_dict=path).cut("他是巡察小蜜蜂")
    with pytest.raises(UserDictError) as info:
        JiebaSegmenter(user_dict=tmp_path / "missing.txt")
    assert info.value.code == "bad_user_dict"


def test_stopwords_loaded_without_problem_words() -> None:
    stop = load_stopwords()
    assert len(stop) >= 300
    assert load_stopwords() is stop
    assert {"进一步", "切实", "认真", "有关", "的", "，", "。", "一是"} <= stop
    problem_words = {
        "不到位",
        "违规",
        "问题",
        "存在",
        "不",
        "未",
        "没有",
        "落实",
        "整改",
        "腐败",
        "严格",
        "健全",
    }
    assert not problem_words & stop
    assert all(w == w.strip() and w for w in stop)


def test_content_tokens_drop_stopwords_punctuation_numbers(segmenter: Segmenter) -> None:
    text = "一是进一步落实中央八项规定精神不到位，\n违规发放津补贴12.5万元、共3人。"
    assert content_tokens(segmenter, text) == [
        "落实",
        "中央八项规定精神",
        "不到位",
        "违规",
        "发放",
        "津补贴",
    ]
    numbers = "十二轮 2024 ２０２４ ① 一千八百三十二个 98.14% 百分之九十八点一四 第一"
    assert content_tokens(segmenter, numbers) == []
    assert content_tokens(segmenter, "第一议题 三资 四风") == ["第一议题", "三资", "四风"]


# --- jieba vs rjieba ----------------------------------------------------------------------


@needs_shared
def test_agreement_jieba_rjieba_real_texts() -> None:
    """With the HMM off both run the same DAG search over the same dictionaries, so any token
    that differs is a bug (e.g. a user-dictionary word loaded differently), not a matter of taste.
    Measured: 14/14 texts and 11,557/11,557 tokens identical. The threshold allows one differing
    token per thousand so a future dictionary tie does not flip ``auto`` silently without a look.
    """
    jieba, rjieba = make_segmenter("jieba"), make_segmenter("rjieba")
    texts = [t for _, t in REAL_TEXTS]
    diffs = [d for t in texts for d in disagreements(jieba, rjieba, t)]
    assert agreement(jieba, rjieba, texts, by="token") >= 0.999, diffs[:10]
    assert agreement(jieba, rjieba, texts, by="text") == 1.0, diffs[:10]


@needs_shared
def test_agreement_with_hmm_on_differs_on_dates() -> None:
    """Documents why the HMM stays off: jieba's HMM pass splits digit runs, rjieba's does not."""
    jieba, rjieba = JiebaSegmenter(hmm=True), RJiebaSegmenter(hmm=True)
    assert disagreements(jieba, rjieba, "印发日期2017-12-06。") == [
        (["2017", "-", "12", "-", "06"], ["2017-12-06"])
    ]
    assert agreement(jieba, rjieba, [t for _, t in REAL_TEXTS], by="token") > 0.99


class CharSegmenter:
    """One token per character: a deliberately different segmenter for agreement()."""

    name = "chars"

    def cut(self, text: str) -> list[str]:
        return list(text)

    def tokens(self, text: str) -> list[tuple[str, int, int]]:
        return [(ch, i, i + 1) for i, ch in enumerate(text)]


def test_agreement_counts_texts_and_tokens() -> None:
    jieba, chars = make_segmenter("jieba"), CharSegmenter()
    texts = ["三重一大", "的"]  # jieba: 1 token; chars: 4 tokens / both: "的"
    assert agreement(jieba, chars, texts, by="text") == 0.5
    assert agreement(jieba, chars, texts, by="token") == pytest.approx(2 * 1 / (2 + 5))
    assert agreement(jieba, jieba, texts) == 1.0
    with pytest.raises(ValueError):
        agreement(jieba, chars, [])


# --- HanLP (optional backend) -------------------------------------------------------------


@pytest.fixture(autouse=True)
def restore_hf_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """HanLPSegmenter switches Hugging Face offline mode on; undo it after each test."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)


def fake_hanlp(calls: list[str]) -> types.ModuleType:
    """A stand-in ``hanlp`` whose model cuts text into two-character tokens."""
    module = types.ModuleType("hanlp")

    def load(path: str) -> object:
        calls.append(path)
        return lambda text: [text[i : i + 2] for i in range(0, len(text), 2)]

    module.load = load  # type: ignore[attr-defined]
    return module


def test_hanlp_missing_is_backend_unavailable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "hanlp", None)  # makes `import hanlp` fail even if installed
    with pytest.raises(BackendUnavailableError) as info:
        HanLPSegmenter(tmp_path)
    assert info.value.code == "backend_unavailable"
    assert "HanLP" in info.value.message
    assert "pip install torch==2.13.0 && pip install 'xuncha[hanlp]'" in info.value.message


def test_hanlp_missing_model_path_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls: list[str] = []
    monkeypatch.setitem(sys.modules, "hanlp", fake_hanlp(calls))
    missing = tmp_path / "no-such-model"
    with pytest.raises(BackendUnavailableError) as info:
        HanLPSegmenter(missing)
    assert info.value.code == "backend_unavailable"
    assert str(missing) in info.value.message
    assert calls == [], "must not try to load (or download) anything"


def test_hanlp_loads_local_path_lazily(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls: list[str] = []
    monkeypatch.setitem(sys.modules, "hanlp", fake_hanlp(calls))
    seg = HanLPSegmenter(tmp_path)
    assert calls == [] and not seg.loaded
    assert os.environ["HF_HUB_OFFLINE"] == "1", "a transformer named in the model config must not download"
    text = "巡察发现问题\n\n 整改落实 "
    tokens = seg.tokens(text)
    assert calls == [str(tmp_path)]
    assert [t for t, _, _ in tokens] == ["巡察", "发现", "问题", "整改", "落实"]
    assert all(text[s:e] == t for t, s, e in tokens)


def test_make_segmenter_hanlp_needs_model_path(fresh_cache: None) -> None:
    with pytest.raises(BackendUnavailableError) as info:
        make_segmenter("hanlp")
    assert info.value.code == "backend_unavailable"


def test_align_tokens_refuses_rewritten_text() -> None:
    assert align_tokens("a b", ["a", "b"], offset=10) == [("a", 10, 11), ("b", 12, 13)]
    with pytest.raises(ValueError):
        align_tokens("巡察组", ["巡查组"])


# --- factory, laziness, output ------------------------------------------------------------


def test_make_segmenter_caches_instances(fresh_cache: None) -> None:
    jieba = make_segmenter("jieba")
    assert make_segmenter(SegmenterName.JIEBA) is jieba
    assert make_segmenter(" JIEBA ") is jieba
    assert make_segmenter() is make_segmenter("auto") is make_segmenter("rjieba")
    assert make_segmenter().name == "rjieba"
    assert make_segmenter("rjieba") is not jieba
    for seg in (jieba, make_segmenter("rjieba")):
        assert isinstance(seg, Segmenter)


def test_make_segmenter_auto_falls_back_to_jieba(fresh_cache: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "rjieba", None)
    assert make_segmenter().name == "jieba"


def test_make_segmenter_unknown_name() -> None:
    with pytest.raises(UnknownSegmenterError) as info:
        make_segmenter("thulac")
    assert info.value.code == "unknown_segmenter"


@pytest.mark.parametrize("cls", [JiebaSegmenter, RJiebaSegmenter])
def test_segment_dictionary_loads_on_first_use(cls: type[JiebaSegmenter] | type[RJiebaSegmenter]) -> None:
    seg = cls()
    assert not seg.loaded
    seg.cut("巡察")
    assert seg.loaded


def test_segment_import_does_no_work() -> None:
    code = "import sys, nlp.segment; assert 'jieba' not in sys.modules and 'rjieba' not in sys.modules"
    env = {**os.environ, "PYTHONPATH": str(REPO_DIR)}
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO_DIR, env=env)


@pytest.mark.parametrize("cls", [JiebaSegmenter, RJiebaSegmenter])
def test_segment_prints_nothing(
    cls: type[JiebaSegmenter] | type[RJiebaSegmenter], capfd: pytest.CaptureFixture[str]
) -> None:
    """Checked at the file-descriptor level: jieba's log handler holds the real stderr."""
    cls().cut("落实“第一议题”制度")  # a fresh instance, so the dictionary is built inside the test
    out, err = capfd.readouterr()
    assert out == ""
    assert "prefix dict" not in err
