"""Load and validate the category taxonomy (``corpora/taxonomy.yaml``).

The taxonomy is data, not code: an analyst adds a label, a cue or a whole scheme by editing the
YAML file. Validation therefore has to be strict and its errors readable: every problem names the
file, the line and what is wrong, in Chinese for the user and with a stable code.

File shape::

    version: 1
    schemes:
      focus:                          # scheme id (ASCII)
        title: 三个聚焦
        description: …
        source: …                     # public source the scheme comes from
        multi_label: false            # at most one label per finding (focus) or several
        labels:
          - name: 党的领导             # the label string reported in tags
            description: …
            source: …
            cues: [学习贯彻, 第一议题, …]          # words/phrases that support the label
            negative_cues: [党建工作, …]           # words that make a cue match count less
    synonyms:                         # groups of interchangeable words (query expansion, tagging)
      - [补贴, 补助, 津贴]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from nlp.errors import XunchaError
from nlp.yamldata import line_of, read_yaml, string_list

TAXONOMY_PATH = Path(__file__).resolve().parents[1] / "corpora" / "taxonomy.yaml"


class TaxonomyError(XunchaError):
    code = "bad_taxonomy"
    default_message = "分类体系文件有误"


@dataclass(frozen=True)
class Label:
    name: str
    scheme: str
    description: str = ""
    source: str = ""
    cues: tuple[str, ...] = ()
    negative_cues: tuple[str, ...] = ()


@dataclass(frozen=True)
class Scheme:
    id: str
    title: str
    labels: tuple[Label, ...]
    description: str = ""
    source: str = ""
    multi_label: bool = True

    def label(self, name: str) -> Label:
        for label in self.labels:
            if label.name == name:
                return label
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        return [label.name for label in self.labels]


@dataclass(frozen=True)
class Taxonomy:
    schemes: dict[str, Scheme]
    synonyms: tuple[tuple[str, ...], ...] = ()
    path: str = ""
    version: int = 1
    _synonym_index: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False, repr=False)

    def scheme(self, scheme_id: str) -> Scheme:
        try:
            return self.schemes[scheme_id]
        except KeyError:
            raise TaxonomyError(f"分类体系中没有方案 {scheme_id!r}（已有：{', '.join(self.schemes)}）") from None

    def synonyms_of(self, word: str) -> tuple[str, ...]:
        """Other words in the same synonym group as ``word`` (empty if none)."""
        return tuple(w for w in self._synonym_index.get(word, ()) if w != word)


def load_taxonomy(path: str | Path | None = None) -> Taxonomy:
    """Parse and validate a taxonomy file; raise TaxonomyError naming the line of the problem."""
    path = Path(path) if path else TAXONOMY_PATH
    data, root = read_yaml(path, TaxonomyError, "分类体系文件")
    return _build(data, root, str(path))


@lru_cache(maxsize=4)
def default_taxonomy() -> Taxonomy:
    """The bundled taxonomy, parsed once per process."""
    return load_taxonomy(TAXONOMY_PATH)


def _build(data: Any, root: Any, path: str) -> Taxonomy:
    def fail(message: str, *keys: str | int) -> TaxonomyError:
        return TaxonomyError(f"{path}：{line_of(root, *keys)} {message}")

    if not isinstance(data, dict):
        raise fail("顶层应为映射（包含 version、schemes）")
    schemes_raw = data.get("schemes")
    if not isinstance(schemes_raw, dict) or not schemes_raw:
        raise fail("缺少 schemes，或 schemes 不是非空映射", "schemes")
    schemes: dict[str, Scheme] = {}
    for scheme_id, body in schemes_raw.items():
        keys: tuple[str | int, ...] = ("schemes", scheme_id)
        if not isinstance(scheme_id, str) or not scheme_id.isidentifier():
            raise fail(f"方案名 {scheme_id!r} 应为英文标识符（如 focus、livelihood）", *keys)
        if not isinstance(body, dict):
            raise fail(f"方案 {scheme_id} 应为映射", *keys)
        labels_raw = body.get("labels")
        if not isinstance(labels_raw, list) or not labels_raw:
            raise fail(f"方案 {scheme_id} 缺少 labels 列表", *keys, "labels")
        labels: list[Label] = []
        seen: set[str] = set()
        for i, item in enumerate(labels_raw):
            lkeys = (*keys, "labels", i)
            if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"].strip():
                raise fail(f"方案 {scheme_id} 的第 {i + 1} 个标签缺少 name", *lkeys)
            name = item["name"].strip()
            if name in seen:
                raise fail(f"方案 {scheme_id} 中标签 {name!r} 重复", *lkeys)
            seen.add(name)
            unknown = set(item) - {"name", "description", "source", "cues", "negative_cues"}
            if unknown:
                raise fail(f"标签 {name} 有未知字段：{', '.join(sorted(map(str, unknown)))}", *lkeys)
            lists: dict[str, list[str]] = {}
            for field_name in ("cues", "negative_cues"):
                try:
                    lists[field_name] = string_list(item.get(field_name, []))
                except ValueError as exc:
                    raise fail(f"标签 {name} 的 {field_name} {exc}", *lkeys, field_name) from None
            cues, negatives = lists["cues"], lists["negative_cues"]
            labels.append(
                Label(
                    name=name,
                    scheme=scheme_id,
                    description=str(item.get("description", "")),
                    source=str(item.get("source", "")),
                    cues=tuple(cues),
                    negative_cues=tuple(negatives),
                )
            )
        schemes[scheme_id] = Scheme(
            id=scheme_id,
            title=str(body.get("title", scheme_id)),
            labels=tuple(labels),
            description=str(body.get("description", "")),
            source=str(body.get("source", "")),
            multi_label=bool(body.get("multi_label", True)),
        )
    groups: list[tuple[str, ...]] = []
    for i, group in enumerate(data.get("synonyms") or []):
        try:
            words = string_list(group)
        except ValueError as exc:
            raise fail(f"synonyms 第 {i + 1} 组 {exc}", "synonyms", i) from None
        if len(words) < 2:
            raise fail(f"synonyms 第 {i + 1} 组至少要有两个词", "synonyms", i)
        groups.append(tuple(words))
    index: dict[str, tuple[str, ...]] = {}
    for group in groups:
        for word in group:
            index[word] = tuple(dict.fromkeys(index.get(word, ()) + group))
    version = data.get("version", 1)
    if not isinstance(version, int):
        raise fail("version 应为整数", "version")
    return Taxonomy(schemes=schemes, synonyms=tuple(groups), path=path, version=version, _synonym_index=index)
