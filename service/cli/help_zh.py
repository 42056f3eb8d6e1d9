"""Typer's own words in `xuncha --help` in Chinese, like every help text the commands give.

Typer (0.29) builds the help page from module constants (the panel titles, ``[default: …]``) and adds
``--help`` with a fixed English text; both are set here once, before the app is first used. Each
change is guarded, so a Typer release that renames a constant leaves an English word, never a crash.
"""

from __future__ import annotations

from typing import Any

_TITLES = {
    "ARGUMENTS_PANEL_TITLE": "参数",
    "OPTIONS_PANEL_TITLE": "选项",
    "COMMANDS_PANEL_TITLE": "命令",
    "ERRORS_PANEL_TITLE": "错误",
    "DEFAULT_STRING": "[默认：{}]",
    "REQUIRED_LONG_STRING": "[必填]",
    "ABORTED_TEXT": "已中止。",
    "RICH_HELP": "用 [blue]'{command_path} {help_option}'[/] 查看帮助。",
}
HELP_TEXT = "显示本帮助并退出。"


def localise_help() -> None:
    """Set Typer's help-page words to Chinese (idempotent)."""
    try:
        from typer import rich_utils
        from typer._click import decorators
    except ImportError:  # another Typer layout: keep its English words
        return
    for name, text in _TITLES.items():
        if hasattr(rich_utils, name):
            setattr(rich_utils, name, text)
    original = getattr(decorators, "help_option", None)
    if original is None or getattr(original, "_xuncha", False):
        return

    def help_option(param_decls: list[str]) -> Any:
        decorate = original(param_decls)

        def apply(command: Any) -> Any:
            result = decorate(command)
            params = getattr(command, "params", None)
            if params:  # the option just added is the last parameter
                params[-1].help = HELP_TEXT
            return result

        return apply

    help_option._xuncha = True  # type: ignore[attr-defined]
    decorators.help_option = help_option
