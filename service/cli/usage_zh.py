"""Typer's usage errors (a wrong option, a missing argument, a bad value) in Chinese.

Typer 0.29 vendors Click with its messages written as English f-strings (no gettext catalogue to
translate), and coerces option values with Pydantic, whose messages are English too. So a mistake
typed at the command line read ``Invalid value for '--limit': Input should be greater than or equal
to 1`` among Chinese help. Here the finished message is rewritten by pattern when it is printed, and
the usage line's ``Usage:`` prefix is set to ``用法：``. A message no pattern knows is left as it is:
an English sentence, never a crash or a lost message.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

# Pydantic's value errors, as Typer passes them on (the part after "Invalid value for '--x': ")
_VALUE_RULES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (re.compile(r"Input should be a valid integer.*"), lambda m: "应为整数"),
    (re.compile(r"Input should be a valid number.*"), lambda m: "应为数字"),
    (re.compile(r"Input should be a valid boolean.*"), lambda m: "应为 true 或 false"),
    (re.compile(r"Input should be a valid date.*"), lambda m: "应为日期（如 2024-05-08）"),
    (re.compile(r"Input should be greater than or equal to (\S+)"), lambda m: f"应不小于 {m[1]}"),
    (re.compile(r"Input should be greater than (\S+)"), lambda m: f"应大于 {m[1]}"),
    (re.compile(r"Input should be less than or equal to (\S+)"), lambda m: f"应不超过 {m[1]}"),
    (re.compile(r"Input should be less than (\S+)"), lambda m: f"应小于 {m[1]}"),
    (re.compile(r"(?:Value error, )?('.*') is not one of (.*)\.", re.S), lambda m: f"{m[1]} 不是可选值之一（可选：{_listed(m[2])}）"),
    (re.compile(r"(?:Value error, )?Path '(.*)' does not exist\.", re.S), lambda m: f"路径“{m[1]}”不存在"),
    (re.compile(r"(?:Value error, )?(?:File|Directory|Path) '(.*)' is a directory\.", re.S), lambda m: f"“{m[1]}”是目录"),
]

# Click's own usage errors (the whole message)
_RULES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (re.compile(r"No such command '(.*)'\.", re.S), lambda m: f"没有“{m[1]}”这个命令"),
    (re.compile(r"No such option: (\S+) \(Possible options: (.*)\)", re.S), lambda m: f"没有 {m[1]} 这个选项（是否想用：{m[2]}）"),
    (re.compile(r"No such option: (\S+)", re.S), lambda m: f"没有 {m[1]} 这个选项"),
    (re.compile(r"Missing argument '(.*)'\.(.*)", re.S), lambda m: f"缺少参数 {m[1]}" + _rest(m[2])),
    (re.compile(r"Missing option '(.*)'\.(.*)", re.S), lambda m: f"缺少选项 {m[1]}" + _rest(m[2])),
    (re.compile(r"Missing command\.", re.S), lambda m: "缺少子命令"),
    (re.compile(r"Got unexpected extra argument(?:\(s\)|s)? \((.*)\)", re.S), lambda m: f"多余的参数：{m[1]}（含空格的值请加引号）"),
    (re.compile(r"Option '(.*)' requires an argument\.", re.S), lambda m: f"选项 {m[1]} 后面需要一个值"),
    (re.compile(r"Option '(.*)' requires (\d+) arguments\.", re.S), lambda m: f"选项 {m[1]} 后面需要 {m[2]} 个值"),
    (re.compile(r"Option '(.*)' does not take a value\.", re.S), lambda m: f"选项 {m[1]} 不接受值"),
    (re.compile(r"Invalid value for (.*?): (.*)", re.S), lambda m: f"{_hint(m[1])} 的值无效：{translate_value(m[2])}"),
    (re.compile(r"Invalid value: (.*)", re.S), lambda m: f"值无效：{translate_value(m[1])}"),
]


# the placeholders of a usage line (``xuncha [OPTIONS] COMMAND [ARGS]...``)
_USAGE_WORDS = [("[OPTIONS]", "[选项]"), ("COMMAND [ARGS]...", "命令 [参数]...")]


def _listed(quoted: str) -> str:
    return "、".join(part.strip() for part in quoted.split(","))


def _hint(hint: str) -> str:
    return " / ".join(part.strip().strip("'") for part in hint.split("/"))


def _rest(text: str) -> str:
    text = text.strip().lstrip(".").strip()
    return f"（{translate_value(text)}）" if text else ""


def translate_value(message: str) -> str:
    """A Pydantic or Typer value error (``Input should be a valid integer…``) in Chinese."""
    message = message.strip()
    for pattern, render in _VALUE_RULES:
        match = pattern.fullmatch(message)
        if match:
            return render(match)
    return message


def translate(message: str) -> str:
    """A Click usage error message in Chinese; unknown ones unchanged."""
    message = message.strip()
    for pattern, render in _RULES:
        match = pattern.fullmatch(message)
        if match:
            return render(match)
    return message


def localise_usage_errors() -> None:
    """Route Typer's printing of usage errors through :func:`translate` (idempotent)."""
    try:
        from typer import rich_utils
        from typer._click import formatting
    except ImportError:  # another Typer layout: its English messages stay
        return
    original: Any = getattr(rich_utils, "rich_format_error", None)
    if original is not None and not getattr(original, "_xuncha", False):

        def rich_format_error(self: Any) -> None:
            english = self.format_message

            def chinese() -> str:
                return translate(english())

            self.format_message = chinese
            try:
                original(self)
            finally:
                self.format_message = english

        rich_format_error._xuncha = True  # type: ignore[attr-defined]
        rich_utils.rich_format_error = rich_format_error
    write_usage: Any = getattr(getattr(formatting, "HelpFormatter", None), "write_usage", None)
    if write_usage is not None and not getattr(write_usage, "_xuncha", False):

        def chinese_usage(self: Any, prog: str, args: str = "", prefix: str | None = None) -> None:
            for english, chinese_words in _USAGE_WORDS:
                args = args.replace(english, chinese_words)
            write_usage(self, prog, args, "用法：" if prefix is None else prefix)

        chinese_usage._xuncha = True  # type: ignore[attr-defined]
        formatting.HelpFormatter.write_usage = chinese_usage  # type: ignore[method-assign]
