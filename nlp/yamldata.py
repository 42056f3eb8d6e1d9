"""Read the project's hand-edited YAML data files with errors that name the file and the line.

The taxonomy (``corpora/taxonomy.yaml``) and the concept thesaurus (``corpora/concepts/*.yaml``) are
edited by analysts, so a mistake must be reported where it is: both parse the file once into data
and once into the composed node tree, and ask :func:`line_of` for the line of any nested key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from nlp.errors import XunchaError

# libyaml's loader when PyYAML was built with it: the thesaurus (15k forms) parses in a fraction of the
# pure-Python loader's seconds, paid by every process at start; the node marks (lines) are the same.
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(path: Path, error: type[XunchaError], what: str) -> tuple[Any, Any]:
    """``(data, node tree)`` of a UTF-8 YAML file; ``error`` (a XunchaError class) says what failed.

    ``what`` names the kind of file in the messages (分类体系文件, 概念词表文件).
    """
    try:
        raw_text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"找不到{what} {path}") from None
    except UnicodeDecodeError:
        raise error(f"{what} {path} 不是 UTF-8 编码") from None
    try:
        root = yaml.compose(raw_text, Loader=_LOADER)
        data = yaml.load(raw_text, Loader=_LOADER)  # noqa: S506 (a safe loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"第 {mark.line + 1} 行第 {mark.column + 1} 列" if mark else "某处"
        problem = getattr(exc, "problem", None) or str(exc)
        raise error(f"{path}：{where} YAML 格式错误（{problem}）") from None
    return data, root


def line_of(node: Any, *keys: str | int) -> str:
    """Human line reference of a nested node of the composed YAML tree ("第 12 行").

    Follows ``keys`` as far as they exist, so a missing key reports the line of its parent.
    """
    current = node
    for key in keys:
        if isinstance(current, yaml.MappingNode):
            found = next((v for k, v in current.value if k.value == key), None)
        elif isinstance(current, yaml.SequenceNode) and isinstance(key, int) and key < len(current.value):
            found = current.value[key]
        else:
            found = None
        if found is None:
            break
        current = found
    mark = getattr(current, "start_mark", None)
    return f"第 {mark.line + 1} 行" if mark else "某处"


def string_list(value: Any) -> list[str]:
    """A YAML list of non-empty strings; ValueError says what is wrong (the caller adds where)."""
    if not isinstance(value, list):
        raise ValueError("应为字符串列表")
    out = []
    for v in value:
        if not isinstance(v, str) or not v.strip():
            raise ValueError(f"含有非字符串或空项：{v!r}")
        out.append(v.strip())
    return out
