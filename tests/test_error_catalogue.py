"""Every error code the product gives is in the one catalogue and in the README, each once.

Scripts match on error codes, so a code nobody documented is an interface nobody can rely on. The codes
are gathered two ways, so that a new one cannot slip by:

* by reading the source of ``nlp/`` and ``service/`` with :mod:`ast`: ``code = "…"`` in a class body, the
  code argument of ``ApiError(…)``, ``error_line(…)``, ``error_body(…)`` and ``json_error(…)``, an
  ``error_code=`` keyword, a ``{"code": …}`` / ``{"error_code": …}`` dict and ``x.error_code = …`` (module
  constants such as ``CANCELLED`` are resolved); an expression that is neither a literal nor a constant
  must only pass an existing code through (``exc.code``, a ``code`` parameter), or the test says where;
* by importing every module that defines a class with a ``code`` and walking ``XunchaError``'s subclasses,
  which also sees a code the source spells in a way the parser does not follow.

The catalogue is ``service.api.errors.ERRORS``; the README's 错误代码 table must hold the same rows.
"""

from __future__ import annotations

import ast
import importlib
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from nlp.errors import XunchaError
from service.api.errors import CATALOGUE, ERRORS, HTTP_CODES, catalogue_markdown

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("nlp", "service")
README = REPO / "README.md"
# call name -> index of its code argument
CODE_ARGUMENT = {"ApiError": 1, "error_line": 1, "error_body": 0, "json_error": 1}
# the calls whose first argument is the HTTP status the code is answered with
STATUS_FIRST = {"ApiError", "json_error"}
# every construct the finder reads names one of these; a file with none of them is not parsed
TRIGGERS = ("code", *CODE_ARGUMENT)
ROW = re.compile(r"^\| `(?P<code>[a-z0-9_]+)` \| (?P<status>\d{3}|—) \| (?P<message>.+?) \|$")


@dataclass
class Found:
    """What the source says: code -> where it is given, (code, status, where) for literal statuses,
    the code expressions that are not literals, and the modules that define classes with a code."""

    codes: dict[str, list[str]] = field(default_factory=dict)
    statuses: list[tuple[str, int, str]] = field(default_factory=list)
    unresolved: list[tuple[str, str]] = field(default_factory=list)
    class_modules: set[str] = field(default_factory=set)


def _sources() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (REPO / package).rglob("*.py"))


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


class _CodeFinder(ast.NodeVisitor):
    """Collects the codes of one module; tracks the enclosing functions' parameters, because a
    ``code`` that is a parameter only passes on what its caller gave (and the caller is checked)."""

    def __init__(self, path: Path, found: Found, constants: dict[str, str]) -> None:
        self.where = str(path.relative_to(REPO))
        self.module = _module_name(path)
        self.found, self.constants = found, constants
        self.params: list[set[str]] = []

    def _take(self, node: ast.expr, line: int) -> str | None:
        where = f"{self.where}:{line}"
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            code = node.value
        elif isinstance(node, ast.Name) and node.id in self.constants:
            code = self.constants[node.id]
        else:
            passed_through = (
                (isinstance(node, ast.Constant) and node.value is None)
                or (isinstance(node, ast.Attribute) and node.attr in ("code", "error_code"))
                or (isinstance(node, ast.Name) and any(node.id in p for p in self.params))
            )
            if not passed_through:
                self.found.unresolved.append((where, ast.unparse(node)))
            return None
        self.found.codes.setdefault(code, []).append(where)
        return code

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        a = node.args
        self.params.append({x.arg for x in (*a.posonlyargs, *a.args, *a.kwonlyargs)})
        self.generic_visit(node)
        self.params.pop()

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        if any(isinstance(base, ast.Name) and base.id == "BaseModel" for base in node.bases):
            self.generic_visit(node)  # a response model declares the field that carries a code, not a code
            return
        for stmt in node.body:
            value = None
            if isinstance(stmt, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "code" for t in stmt.targets):
                value = stmt.value
            elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.target.id == "code":
                value = stmt.value
            if value is not None:
                self.found.class_modules.add(self.module)
                self._take(value, stmt.lineno)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        if name in CODE_ARGUMENT:
            index = CODE_ARGUMENT[name]
            arg = node.args[index] if len(node.args) > index else next((k.value for k in node.keywords if k.arg == "code"), None)
            assert arg is not None, f"{self.where}:{node.lineno}: {name}(…) without a code"
            code = self._take(arg, node.lineno)
            status = node.args[0] if node.args else None
            if code and name in STATUS_FIRST and isinstance(status, ast.Constant) and isinstance(status.value, int):
                self.found.statuses.append((code, status.value, f"{self.where}:{node.lineno}"))
        for keyword in node.keywords:
            if keyword.arg == "error_code":
                self._take(keyword.value, node.lineno)
        self.generic_visit(node)

    def visit_Dict(self, node: ast.Dict) -> None:
        for key, value in zip(node.keys, node.values, strict=True):
            if isinstance(key, ast.Constant) and key.value in ("code", "error_code"):
                self._take(value, node.lineno)
        self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        if any(isinstance(t, ast.Attribute) and t.attr == "error_code" for t in node.targets):
            self._take(node.value, node.lineno)
        self.generic_visit(node)


@lru_cache(maxsize=1)
def _found() -> Found:
    found = Found()
    for path in _sources():
        source = path.read_text(encoding="utf-8")
        if not any(word in source for word in TRIGGERS):  # nothing the finder looks at (keeps the test fast)
            continue
        tree = ast.parse(source, filename=str(path))
        constants = {
            target.id: stmt.value.value
            for stmt in tree.body
            if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str)
            for target in stmt.targets
            if isinstance(target, ast.Name)
        }
        _CodeFinder(path, found, constants).visit(tree)
    return found


def _subclasses(cls: type[XunchaError]) -> Iterator[type[XunchaError]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


@lru_cache(maxsize=1)
def _class_codes() -> dict[str, list[str]]:
    """Codes of the XunchaError subclasses defined in nlp/ and service/, after importing their modules."""
    modules = _found().class_modules
    assert modules, "no module defines an error class: the source walk is broken"
    for name in sorted(modules):
        importlib.import_module(name)
    codes: dict[str, list[str]] = {}
    classes: list[type[XunchaError]] = [XunchaError, *_subclasses(XunchaError)]
    for cls in classes:
        if cls.__module__.split(".")[0] in PACKAGES:
            codes.setdefault(cls.code, []).append(f"{cls.__module__}.{cls.__qualname__}")
    return codes


def _all_codes() -> dict[str, list[str]]:
    codes = {code: list(where) for code, where in _found().codes.items()}
    for code, where in _class_codes().items():
        codes.setdefault(code, []).extend(where)
    return codes


def _readme_rows() -> list[tuple[str, int | None, str]]:
    text = README.read_text(encoding="utf-8")
    assert "\n## 错误代码\n" in text, "README has no section 错误代码"
    section = text.split("\n## 错误代码\n", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        m = ROW.match(line)
        if m:
            rows.append((m["code"], None if m["status"] == "—" else int(m["status"]), m["message"]))
    return rows


def test_every_code_given_anywhere_is_in_the_catalogue_and_the_readme() -> None:
    codes = _all_codes()
    # The walks found what is known to be there (so an empty result cannot pass): codes of every kind.
    assert len(codes) >= 70, sorted(codes)
    assert {"encrypted_pdf", "weak_password", "password_change_required", "no_reports", "cancelled",
            "request_too_large", "internal_error"} <= codes.keys()
    assert len(_class_codes()) >= 40
    missing = {code: where[:3] for code, where in codes.items() if code not in CATALOGUE}
    assert not missing, f"codes given but not in service.api.errors.ERRORS: {missing}"
    documented = {code for code, _, _ in _readme_rows()}
    undocumented = {code: where[:3] for code, where in codes.items() if code not in documented}
    assert not undocumented, f"codes given but not in the README table 错误代码: {undocumented}"


def test_the_readme_table_is_the_catalogue() -> None:
    rows = _readme_rows()
    assert len(rows) >= 70
    assert rows == [(e.code, e.status, e.message) for e in ERRORS], (
        "README 错误代码 differs from service.api.errors.ERRORS; regenerate it with "
        "`python -m service.api.errors`:\n" + catalogue_markdown()
    )


def test_no_code_is_listed_twice() -> None:
    twice = [code for code, n in Counter(e.code for e in ERRORS).items() if n > 1]
    assert not twice, f"listed more than once in ERRORS: {twice}"
    assert len(CATALOGUE) == len(ERRORS) >= 70
    rows = _readme_rows()
    assert rows, "README table 错误代码 is empty"
    twice_in_readme = [code for code, n in Counter(code for code, _, _ in rows).items() if n > 1]
    assert not twice_in_readme, f"listed more than once in the README: {twice_in_readme}"


def test_every_entry_is_complete_and_in_chinese() -> None:
    assert ERRORS
    bad = [e for e in ERRORS if not re.fullmatch(r"[a-z][a-z0-9_]*", e.code)
           or not re.search(r"[\u4e00-\u9fff]", e.message) or "|" in e.message or "\n" in e.message
           or (e.status is not None and not 400 <= e.status <= 599)]
    assert not bad, bad


def test_literal_statuses_agree_with_the_catalogue() -> None:
    """``ApiError(404, "unknown_job", …)`` answers what the README says that code is answered with."""
    statuses = _found().statuses
    assert len(statuses) >= 20
    wrong = [(code, status, where, CATALOGUE[code].status) for code, status, where in statuses
             if code in CATALOGUE and CATALOGUE[code].status != status]
    assert not wrong, f"(code, status given, where, status in the catalogue): {wrong}"
    assert HTTP_CODES
    framework = [(status, code) for status, code in HTTP_CODES.items() if CATALOGUE[code].status != status]
    assert not framework, framework


def test_a_code_that_is_not_a_literal_is_only_passed_through() -> None:
    """A code built at run time (an f-string, a variable) could be anything: the source must give a
    literal or a module constant, or pass on an existing error's ``.code``."""
    assert not _found().unresolved, _found().unresolved


def test_the_finder_sees_each_way_a_code_is_given() -> None:
    """The source walk on a made-up module: each construct it reads yields its code, a module constant
    is resolved, a passed-through ``exc.code`` or ``code`` parameter is accepted, a built code is not."""
    source = '''
GAVE_UP = "k_constant"

class OddError(XunchaError):
    code = "k_class"

def refuse(code: str, exc: Exception, item: object, which: str) -> None:
    raise ApiError(404, "k_api", "没有")
    error_line(None, "k_cli", "错误")
    error_body(code="k_body_keyword", message="错误")
    json_error(413, "k_json", "太大")
    runner.update(error_code=GAVE_UP)
    item.error_code = "k_attribute"
    answer = {"error": {"code": "k_dict", "message": "错误"}}
    error_line(None, exc.code, "passed through")
    error_body(code, "passed through")
    raise ApiError(422, f"bad_{which}", "built at run time")
'''
    found = Found()
    fake = REPO / "service" / "made_up.py"
    _CodeFinder(fake, found, {"GAVE_UP": "k_constant"}).visit(ast.parse(source))
    assert set(found.codes) == {"k_constant", "k_class", "k_api", "k_cli", "k_body_keyword", "k_json", "k_attribute", "k_dict"}
    assert found.statuses == [("k_api", 404, "service/made_up.py:8"), ("k_json", 413, "service/made_up.py:11")]
    assert found.unresolved == [("service/made_up.py:17", "f'bad_{which}'")]
    assert found.class_modules == {"service.made_up"}
