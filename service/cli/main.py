"""The `xuncha` command."""

from __future__ import annotations

import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from nlp.errors import XunchaError
from nlp.extract import PdfBackend
from service.cli.analyze import OutputFormat, analyze_paths, render
from service.cli.filters import warn_unknown
from service.cli.help_zh import localise_help
from service.cli.ingest import ingest_paths
from service.cli.output import error_line, print_json, stderr
from service.cli.output import stdout as _stdout
from service.cli.segment import SegmenterChoice, render_tokens, segment_text
from service.cli.train import render_focus_report, render_report, run_training
from service.cli.usage_zh import localise_usage_errors
from service.store.repository import Overrides

localise_help()
localise_usage_errors()

FORMAT_HELP = "json：机器可读，仅输出到标准输出；table：供人阅读的表格。"
ROUND_HELP = "只看该轮次（名称的一部分即可，如“第六轮”；可重复，符合其一即可；库中没有的轮次：警告，结果为空）。"
UNIT_HELP = "只看该单位（名称的一部分即可；库中没有的单位：警告，结果为空）。"
# ``--round`` is the one name for a round filter in every command; ``--rounds`` (its name before)
# still works but is no longer shown, so old scripts keep running.
RoundOption = Annotated[list[str], typer.Option("--round", help=ROUND_HELP)]
OldRoundsOption = Annotated[list[str], typer.Option("--rounds", hidden=True, help="同 --round（旧名）。")]
RecursiveOption = Annotated[bool, typer.Option("--recursive", "-r", help="同时读取文件夹中各级子文件夹里的报告（默认只读文件夹本身的报告）。")]
REPORTS_HELP = (
    "报告文件或文件夹：PDF、DOCX、DOC/WPS/RTF、OFD、TXT、HTML、扫描图片（PNG/JPEG/TIFF/BMP）；"
    "其他文件（如 README.md、.jsonl）和子文件夹会跳过，并在标准错误中说明。"
)

app = typer.Typer(
    name="xuncha",
    help="xuncha：巡察报告离线分析——提取文本、切分问题、标注、检索、共性问题、统计（全程离线）。",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """xuncha：巡察报告离线分析。"""


@app.command()
def analyze(
    files: Annotated[list[Path], typer.Argument(help=REPORTS_HELP)],
    format: Annotated[OutputFormat, typer.Option("--format", "-f", help=FORMAT_HELP)] = OutputFormat.TABLE,
    pdf_backend: Annotated[PdfBackend, typer.Option(help="pdfium（快，默认）或 pdfplumber（保留版面）。")] = PdfBackend.PDFIUM,
    max_size_mb: Annotated[float | None, typer.Option(help="拒绝大于此值（MB）的文件（默认：XUNCHA_MAX_FILE_MB 或 50）。")] = None,
    no_text: Annotated[bool, typer.Option("--no-text", help="JSON 中不输出全文。")] = False,
    debug: Annotated[bool, typer.Option(help="内部错误时显示调用栈（供排查）。")] = False,
    recursive: RecursiveOption = False,
) -> None:
    """提取报告文本并切分问题，每个文件输出一条结果（任一文件失败则退出码为 1）。"""
    max_bytes = int(max_size_mb * 1024 * 1024) if max_size_mb is not None else None
    results, failures = analyze_paths(files, max_bytes=max_bytes, pdf_backend=pdf_backend, debug=debug, recursive=recursive)
    _require_reports(len(results))
    render(results, format, include_text=not no_text)
    raise typer.Exit(code=1 if failures else 0)


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help=REPORTS_HELP)],
    round: Annotated[str | None, typer.Option("--round", help="巡察轮次，如“十四届县委第六轮”（默认：从正文识别）。")] = None,
    unit: Annotated[str | None, typer.Option("--unit", help="被巡察单位（默认：从正文识别）。")] = None,
    kind: Annotated[str | None, typer.Option("--kind", help="巡察类型：常规/专项/机动/回头看/交叉/提级/联动/村(社区)（默认：从正文识别）。")] = None,
    date: Annotated[str | None, typer.Option("--date", help="报告日期 YYYY-MM-DD（默认：从正文识别）。")] = None,
    format: Annotated[OutputFormat, typer.Option("--format", "-f", help=FORMAT_HELP)] = OutputFormat.TABLE,
    recursive: RecursiveOption = False,
) -> None:
    """分析报告并存入问题库（重复入库不会重复存储；每个文件一个事务）。"""
    results, failures = ingest_paths(paths, Overrides(round=round, unit=unit, kind=kind, date=date), recursive=recursive)
    _require_reports(len(results))
    if format is OutputFormat.JSON:
        print_json(results)
    else:
        stored = sum(1 for r in results if r["status"] == "stored")
        dup = sum(1 for r in results if r["status"] == "duplicate")
        findings = sum(r.get("findings", 0) for r in results if r["status"] == "stored")
        stdout_print(f"入库 {stored} 个文件（{findings} 条问题），已存在 {dup} 个，失败 {failures} 个。")
    raise typer.Exit(code=1 if failures else 0)


@app.command("import")
def import_sheet(
    path: Annotated[Path, typer.Argument(help="问题清单或整改台账：.xlsx、.csv（UTF-8/GBK）或 .jsonl，每行一条问题。")],
    map: Annotated[list[str], typer.Option("--map", help="指定列的含义：列名=字段（字段：问题描述、被巡察单位、巡察轮次、巡察类型、日期、整改状态），可重复。")] = [],  # noqa: B006
    format: Annotated[OutputFormat, typer.Option("--format", "-f", help=FORMAT_HELP)] = OutputFormat.TABLE,
) -> None:
    """导入问题清单：每行一条问题，与报告中的问题一样标注、入库、可检索；有错误的行报告行号后跳过。"""
    from service.cli.importer import import_path

    try:
        result = import_path(path, map)
    except XunchaError as exc:
        error_line(exc.source or str(path), exc.code, exc.message)
        raise typer.Exit(code=1) from None
    for skipped in result.skipped:
        error_line(str(path), "bad_row", skipped.message)
    if format is OutputFormat.JSON:
        print_json(result.to_dict())
    else:
        verb = "已导入" if result.status == "stored" else "该清单已导入过"
        stdout_print(f"{verb}：{result.findings} 条问题，跳过 {len(result.skipped)} 行（文档 {result.document_id}）。")


def keep_cli_index() -> None:
    """Search reads the base index left on disk by the last command or the server (built here, and
    left there, when there is none: the next ``xuncha search`` opens it in milliseconds)."""
    from service.live_index import keep_index_in
    from service.settings import get_settings

    settings = get_settings()
    keep_index_in(settings.data_dir, settings.resolved_database_url, serving=False)


@app.command()
def search(
    query: Annotated[str | None, typer.Argument(help="要查找的问题，用自己的话描述即可。")] = None,
    like: Annotated[int | None, typer.Option("--like", help="改为查找与该问题编号相似的问题。")] = None,
    round: RoundOption = [],  # noqa: B006
    unit: Annotated[str | None, typer.Option("--unit", help=UNIT_HELP)] = None,
    label: Annotated[str | None, typer.Option("--label", help="只查带有该标签的问题。")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=200, help="最多返回的结果数。")] = 10,
    old_rounds: OldRoundsOption = [],  # noqa: B006
    format: Annotated[OutputFormat, typer.Option("--format", "-f", help=FORMAT_HELP)] = OutputFormat.TABLE,
) -> None:
    """检索问题库：语义向量、BM25 与概念匹配融合，低于相关度下限的结果不显示，并说明匹配原因。"""
    from service.library import Filters, search_library
    from service.store.db import session_factory

    if not query and like is None:
        error_line(None, "empty_query", "请给出查询内容，或用 --like 指定问题编号")
        raise typer.Exit(code=2)
    rounds = [*round, *old_rounds]
    try:
        keep_cli_index()
        with session_factory()() as session:
            if warn_unknown(session, rounds, [unit] if unit else []):
                results = []
            else:
                results = search_library(session, query, Filters(None, unit, label, tuple(rounds)), limit, like)
    except XunchaError as exc:
        error_line(None, exc.code, exc.message)
        raise typer.Exit(code=1) from None
    if format is OutputFormat.JSON:
        print_json(results)
        return
    if not results:
        stdout_print("没有相关度足够的问题。")
    for r in results:
        extra = f"（另有 {len(r['duplicates'])} 条相近）" if r["duplicates"] else ""
        why = "、".join([*r["matched_terms"][:4], *(c["name"] for c in r["matched_concepts"][:3])])
        stdout_print(
            f"[{r['finding_id']}] 相关度{r['relevance']} {r['unit'] or ''} {r['round'] or ''}\n    {r['text']}{extra}"
            + (f"\n    匹配：{why}" if why else "")
        )


@app.command()
def clusters(
    round: RoundOption = [],  # noqa: B006
    unit: Annotated[list[str], typer.Option("--unit", help=UNIT_HELP.replace("即可；", "即可；可重复；"))] = [],  # noqa: B006
    old_rounds: OldRoundsOption = [],  # noqa: B006
    old_units: Annotated[list[str], typer.Option("--units", hidden=True, help="同 --unit（旧名）。")] = [],  # noqa: B006
    min_units: Annotated[int, typer.Option("--min-units", min=1, help="只列出至少在 N 个单位出现的问题。")] = 1,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="最多列出的共性问题数（默认全部）。")] = None,
    singletons: Annotated[bool, typer.Option(help="把只出现一次的问题也列为单独一类。")] = True,
    format: Annotated[OutputFormat, typer.Option("--format", "-f", help=FORMAT_HELP)] = OutputFormat.TABLE,
) -> None:
    """跨单位、跨轮次的共性问题，按出现范围排序，并列出同一单位在后续轮次中的反复问题。"""
    from service.clusters import ClusterQuery, common_issues
    from service.store.db import session_factory

    rounds, units = [*round, *old_rounds], [*unit, *old_units]
    try:
        with session_factory()() as session:
            if warn_unknown(session, rounds, units):
                result: dict[str, Any] = {"clusters": [], "recurrences": [], "findings": 0}
            else:
                result = common_issues(session, ClusterQuery(rounds, units, min_units, limit, singletons))
    except XunchaError as exc:
        error_line(None, exc.code, exc.message)
        raise typer.Exit(code=1) from None
    if format is OutputFormat.JSON:
        print_json({"clusters": result["clusters"], "recurrences": result["recurrences"], "findings": result["findings"]})
        return
    for c in result["clusters"]:
        if c["singleton"]:
            continue
        trend = "，".join(f"{r}{n}条" for r, n in c["per_round"].items())
        stdout_print(f"[{c['cluster_id']}] {c['title']}  {c['size']} 条 · {len(c['units'])} 个单位 · {trend}  (得分 {c['systemic_score']:.1f})")
        for rep in c["representatives"][:2]:
            stdout_print(f"    · {rep['unit'] or ''}：{rep['text']}")
    singles = sum(1 for c in result["clusters"] if c["singleton"])
    stdout_print(f"共 {result['findings']} 条问题；单独出现的问题 {singles} 条；同一单位跨轮次重复出现 {len(result['recurrences'])} 处。")


class SummaryFormat(StrEnum):
    MARKDOWN = "markdown"
    DOCX = "docx"
    JSON = "json"


@app.command()
def summary(
    round: RoundOption = [],  # noqa: B006
    old_rounds: OldRoundsOption = [],  # noqa: B006
    top: Annotated[int, typer.Option("--top", min=1, help="报告列出的共性问题数量。")] = 8,
    format: Annotated[SummaryFormat, typer.Option("--format", "-f", help="markdown、json 或 docx（Word 报告文件，需 --output）。")] = SummaryFormat.MARKDOWN,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="输出文件（docx 格式必填）。")] = None,
) -> None:
    """生成共性问题分析报告：基于问题库的共性问题，每句话都可追溯到具体问题。"""
    from service.store.db import session_factory, snapshot
    from service.summary import build_summary, render_docx, render_markdown

    if format is SummaryFormat.DOCX and output is None:
        error_line(None, "output_required", "DOCX 格式需要用 --output 指定文件")
        raise typer.Exit(code=2)
    rounds = [*round, *old_rounds]
    try:
        with session_factory()() as session, snapshot(session) as reader:
            if warn_unknown(reader, rounds):
                stderr.print("所选轮次中没有问题，未生成报告。", markup=False)
                return
            report = build_summary(reader, rounds or None, top)
    except XunchaError as exc:
        error_line(None, exc.code, exc.message)
        raise typer.Exit(code=1) from None
    if format is SummaryFormat.DOCX:
        assert output is not None
        render_docx(report, output)
        stderr.print(f"已写入 {output}", markup=False)
    elif format is SummaryFormat.JSON:
        print_json(report)
    elif output:
        output.write_text(render_markdown(report), encoding="utf-8")
        stderr.print(f"已写入 {output}", markup=False)
    else:
        stdout_print(render_markdown(report))


@app.command()
def export(
    output: Annotated[Path, typer.Option("--output", "-o", help="要写入的 .xlsx 文件。")] = Path("问题清单.xlsx"),
    round: RoundOption = [],  # noqa: B006
    format: Annotated[str, typer.Option("--format", "-f", help="xlsx（唯一支持的格式）。")] = "xlsx",
    old_rounds: OldRoundsOption = [],  # noqa: B006
) -> None:
    """导出问题清单和整改台账（Excel/WPS 工作簿）。"""
    from service.export import export_xlsx
    from service.store.db import session_factory

    if format != "xlsx":
        error_line(None, "unsupported_format", f"不支持的导出格式：{format}（仅支持 xlsx）")
        raise typer.Exit(code=2)
    rounds = [*round, *old_rounds]
    with session_factory()() as session:
        warn_unknown(session, rounds)  # the workbook is then written empty: headers and the ledger's status lists
        export_xlsx(session, output, rounds or None)
    stderr.print(f"已写入 {output}", markup=False)


@app.command()
def train(
    labels: Annotated[list[Path], typer.Option("--labels", help="已确认标签的 JSONL 文件，每行如 {\"text\", \"focus\": …, \"livelihood\": [...], …}.")] = [],  # noqa: B006
    model_dir: Annotated[Path | None, typer.Option(help="模型所在文件夹（默认：models/ 或 XUNCHA_MODEL_DIR）。")] = None,
    taxonomy: Annotated[Path | None, typer.Option(help="分类体系 YAML（默认：corpora/taxonomy.yaml）。")] = None,
    bundled: Annotated[bool, typer.Option(help="同时使用 corpora/training/sample_labels.jsonl 中的标注。")] = True,
    bootstrap: Annotated[bool, typer.Option(help="把样例语料中词典高置信度的标签作为伪标注加入训练。")] = True,
    force: Annotated[bool, typer.Option(help="即使得分更低也替换模型。")] = False,
    confirmed: Annotated[bool, typer.Option(help="同时学习问题库中分析员确认过的标签。")] = True,
    focus: Annotated[bool, typer.Option(help="同时重新训练“三个聚焦”模型（真实标注问题 + 以上标注）。")] = True,
    format: Annotated[OutputFormat, typer.Option("--format", "-f", help=FORMAT_HELP)] = OutputFormat.TABLE,
) -> None:
    """重新训练标签分类模型和“三个聚焦”模型；只有得分不降低时才替换。"""
    try:
        report, focus_report = run_training(labels, model_dir, taxonomy, bundled, bootstrap, force, confirmed, focus)
    except XunchaError as exc:
        error_line(exc.source, exc.code, exc.message)
        raise typer.Exit(code=1) from None
    if format is OutputFormat.JSON:
        print_json({**report.to_dict(), "focus_model": focus_report.to_dict() if focus_report else None})
    else:
        render_report(report)
        if focus_report:
            render_focus_report(focus_report)


@app.command()
def segment(
    text: Annotated[str, typer.Argument(help="要分词的文本；“-”表示从标准输入读取。")],
    backend: Annotated[SegmenterChoice, typer.Option(help="auto（rjieba，与 jieba 切分结果相同）、jieba、rjieba、hanlp。")] = SegmenterChoice.AUTO,
    model_path: Annotated[Path | None, typer.Option(help="本地 HanLP 模型文件夹（用于 --backend hanlp）。")] = None,
    content: Annotated[bool, typer.Option("--content", help="去掉停用词、标点和数字。")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="以 JSON 数组输出分词结果。")] = False,
) -> None:
    """用领域词典对中文文本分词。"""
    if text == "-":
        text = sys.stdin.read()
    try:
        tokens = segment_text(text, backend, model_path, content)
    except XunchaError as exc:
        error_line(None, exc.code, exc.message)
        raise typer.Exit(code=1) from None
    render_tokens(tokens, json_output)


user_app = typer.Typer(help="账户管理：添加、停用、启用、删除用户，修改角色，签发与吊销 API 令牌。", no_args_is_help=True)
app.add_typer(user_app, name="user")


class RoleChoice(StrEnum):
    VIEWER = "viewer"
    ANALYST = "analyst"
    ADMIN = "admin"


@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="用户名（汉字、字母、数字及 . - _ @；存储时统一为半角小写）。")],
    role: Annotated[RoleChoice, typer.Option("--role", help="viewer（只读）、analyst（另可上传、修正标签）、admin（另可管理用户、删除、查看审计）。")] = RoleChoice.VIEWER,
    temporary: Annotated[bool, typer.Option("--temporary", help="临时密码：用户首次登录后须先修改密码，此前不能做其他操作。")] = False,
) -> None:
    """创建用户；从标准输入读取两次密码（至少 10 位，含大写、小写、数字、符号中的三类，不含用户名，不是常见密码）。最后一个词是 API 令牌（XUNCHA_TOKEN_DAYS 天后过期，默认 90）。"""
    from service.accounts import Role
    from service.cli.accounts import add_user, read_password_twice

    try:
        stored, token = add_user(name, Role(role.value), read_password_twice(), temporary)
    except XunchaError as exc:
        error_line(None, exc.code, exc.message)
        raise typer.Exit(code=1) from None
    note = "；首次登录须修改密码" if temporary else ""
    stdout_print(f"已创建用户 {stored}（{role.value}{note}）。API 令牌（只显示这一次）: {token}")


@user_app.command("token")
def user_token(
    name: Annotated[str, typer.Argument(help="已有的用户名。")],
    label: Annotated[str | None, typer.Option(help="令牌用途说明。")] = None,
    days: Annotated[float | None, typer.Option("--days", min=0.001, max=3650, help="有效天数（不给则用 XUNCHA_TOKEN_DAYS，默认 90 天）。")] = None,
) -> None:
    """为用户再签发一个 API 令牌（输出的最后一个词）。"""
    from service.cli.accounts import new_token

    try:
        token = new_token(name, label, days)
    except XunchaError as exc:
        error_line(None, exc.code, exc.message)
        raise typer.Exit(code=1) from None
    stdout_print(f"API 令牌（只显示这一次）: {token}")


@user_app.command("passwd")
def user_passwd(
    name: Annotated[str, typer.Argument(help="用户名。")],
    temporary: Annotated[bool, typer.Option("--temporary", help="作为临时密码：用户下次登录后须先修改。")] = False,
) -> None:
    """重置用户的密码（从标准输入读取两次）；用户的网页会话全部失效，API 令牌不变。"""
    from service.cli.accounts import read_password_twice, set_password

    _account_change(lambda: set_password(name, read_password_twice(), temporary),
                    f"已重置用户 {name} 的密码{'（临时密码，下次登录须修改）' if temporary else ''}，其网页会话已失效。")


def _account_change(action: Callable[[], object], message: str) -> None:
    """Run an account change; ``message`` may name its result as ``{result}``."""
    try:
        result = action()
    except XunchaError as exc:
        error_line(None, exc.code, exc.message)
        raise typer.Exit(code=1) from None
    stdout_print(message.format(result=result))


@user_app.command("disable")
def user_disable(name: Annotated[str, typer.Argument(help="要停用的用户名。")]) -> None:
    """停用用户：其网页会话立即失效，API 令牌立即不可用（重新启用后令牌恢复）。"""
    from service.cli.accounts import set_active

    _account_change(lambda: set_active(name, False), f"已停用用户 {name}，其会话与令牌已立即失效。")


@user_app.command("enable")
def user_enable(name: Annotated[str, typer.Argument(help="要重新启用的用户名。")]) -> None:
    """重新启用已停用的用户。"""
    from service.cli.accounts import set_active

    _account_change(lambda: set_active(name, True), f"已启用用户 {name}。")


@user_app.command("role")
def user_role(
    name: Annotated[str, typer.Argument(help="用户名。")],
    role: Annotated[RoleChoice, typer.Argument(help="新角色：viewer、analyst 或 admin。")],
) -> None:
    """修改用户的角色（立即生效）。"""
    from service.accounts import Role
    from service.cli.accounts import set_role

    _account_change(lambda: set_role(name, Role(role.value)), f"用户 {name} 的角色已改为 {role.value}。")


@user_app.command("revoke")
def user_revoke(name: Annotated[str, typer.Argument(help="用户名。")]) -> None:
    """吊销用户的全部 API 令牌（网页会话不受影响；可再用 user token 签发新令牌）。"""
    from service.cli.accounts import revoke_tokens

    _account_change(lambda: revoke_tokens(name), f"已吊销用户 {name} 的 API 令牌 {{result}} 个。")


@user_app.command("delete")
def user_delete(name: Annotated[str, typer.Argument(help="要删除的用户名。")]) -> None:
    """删除用户及其全部会话和令牌（审计日志中的记录保留）。"""
    from service.cli.accounts import delete_user

    _account_change(lambda: delete_user(name), f"已删除用户 {name}。")


@user_app.command("list")
def user_list(format: Annotated[OutputFormat, typer.Option("--format", "-f", help="json：机器可读，仅输出到标准输出；table：供人阅读的表格。")] = OutputFormat.TABLE) -> None:
    """列出用户及其角色。"""
    from service.cli.accounts import users

    rows = users()
    if format is OutputFormat.JSON:
        print_json(rows)
        return
    for r in rows:
        stdout_print(f"{r['name']}\t{r['role']}\t{'启用' if r['active'] else '停用'}\t{r['created_at'][:19]}")


audit_app = typer.Typer(help="审计日志：列出记录；verify 校验哈希链。", invoke_without_command=True)
app.add_typer(audit_app, name="audit")


@audit_app.callback()
def audit_log(
    ctx: typer.Context,
    user: Annotated[str | None, typer.Option("--user", help="只看该用户的记录。")] = None,
    action: Annotated[str | None, typer.Option("--action", help="只看该操作（login_failed、search、tags_changed…）。")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100000, help="最多列出的记录数。")] = 50,
    format: Annotated[OutputFormat, typer.Option("--format", "-f", help="json：机器可读，仅输出到标准输出；table：供人阅读的表格。")] = OutputFormat.TABLE,
) -> None:
    """审计日志（谁查看、检索、修改、导出了什么，以及登录失败），最新的在前；`xuncha audit verify` 校验哈希链。"""
    if ctx.invoked_subcommand is not None:
        return
    from service.cli.accounts import audit_rows

    rows = audit_rows(user, action, limit)
    if format is OutputFormat.JSON:
        print_json(rows)
        return
    for r in rows:
        flag = "" if r["ok"] else " ✗"
        stdout_print(f"{r['at'][:19]}  {r['user'] or '-'}  {r['action_name']}{flag}  {r['target'] or ''}")


@audit_app.command("verify")
def audit_verify(
    format: Annotated[OutputFormat, typer.Option("--format", "-f", help="json：机器可读，仅输出到标准输出；table：供人阅读的文字。")] = OutputFormat.TABLE,
) -> None:
    """校验审计日志的哈希链：有记录被修改、删除或插入时指出第一条出问题的记录，退出码 1。"""
    from service.cli.accounts import verify_audit

    report = verify_audit()
    if format is OutputFormat.JSON:
        print_json(report.as_dict())
    elif report.ok:
        older = f"；另有 {report.unchained_rows} 条早于哈希链的记录未纳入校验" if report.unchained_rows else ""
        head = f"链头 #{report.head_id} {report.head_hash}" if report.head_id is not None else "哈希链中还没有记录"
        stdout_print(f"审计日志完整：哈希链上的 {report.rows} 条记录均未被修改或删除{older}。{head}")
    else:
        stdout_print(f"审计日志被改动：{report.problem}（已校验 {report.rows} 条）")
    if not report.ok:
        raise typer.Exit(code=1)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="监听地址（默认：仅本机）。")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="监听端口。")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=16, help="工作进程数。")] = 1,
    log_level: Annotated[str, typer.Option(help="uvicorn 日志级别。")] = "info",
) -> None:
    """启动服务：API（/api/v1，文档见 /docs）和网页，默认使用内置存储（SQLite、本地文件）。"""
    import uvicorn

    from service.config_check import check_data_folders
    from service.settings import get_settings
    from service.store.db import get_engine

    settings = get_settings()
    try:
        get_engine()  # create or upgrade the schema before workers start
        check_data_folders(settings.data_dir, settings.uploads_dir, settings.files_dir)
        _check_port_free(host, port)
    except XunchaError as exc:
        error_line(None, exc.code, exc.message)
        raise typer.Exit(code=1) from None
    stderr.print(f"xuncha 服务: http://{host}:{port}/ （API 文档 /docs，数据目录 {get_settings().data_dir}）", markup=False)
    # With several workers uvicorn kills one that does not answer its supervisor's ping within the
    # timeout; a worker analysing an upload on a busy 2-core machine can miss 5 s, and the kill drops
    # the requests it was serving ("server disconnected"), so allow a minute.
    uvicorn.run("service.api.app:create_app", factory=True, host=host, port=port, workers=workers, log_level=log_level,
                proxy_headers=False, server_header=False, timeout_worker_healthcheck=60,
                http="service.api.nodelay:NoDelayH11Protocol")  # TCP_NODELAY: see that module


@app.command("check-config")
def check_config(
    format: Annotated[OutputFormat, typer.Option("--format", "-f", help="json：机器可读，仅输出到标准输出；table：供人阅读的列表。")] = OutputFormat.TABLE,
) -> None:
    """检查配置（环境变量 XUNCHA_*、.env）：数据库、数据目录、处理预算、LibreOffice 与 OCR 模型；不创建、不修改任何内容。

    会导致服务无法启动的问题输出一行中文并以退出码 1 结束；其余（如未安装 LibreOffice）列出提示，退出码 0。
    """
    from service.config_check import check_configuration
    from service.settings import get_settings

    try:
        items = check_configuration(get_settings())
    except XunchaError as exc:
        error_line(None, exc.code, exc.message)
        raise typer.Exit(code=1) from None
    if format is OutputFormat.JSON:
        print_json({"ok": True, "items": [{"name": i.name, "ok": i.ok, "detail": i.detail} for i in items]})
        return
    for item in items:
        stdout_print(f"{'✓' if item.ok else '!'} {item.name}：{item.detail}")
    stdout_print("配置可以启动服务" + ("（带“!”的项目只影响相应功能）" if not all(i.ok for i in items) else ""))


def _check_port_free(host: str, port: int) -> None:
    """A busy port is one Chinese line and exit 1, before anything says the service is up."""
    import socket

    from service.config_check import ConfigurationError

    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ConfigurationError(
                f"无法在 {host}:{port} 上启动：端口已被占用或地址不可用（{exc.strerror}）。请用 --port 换一个端口"
            ) from None


@app.command()
def demo(
    host: Annotated[str, typer.Option(help="监听地址。")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="监听端口。")] = 8000,
    serve_page: Annotated[bool, typer.Option("--serve/--no-serve", help="准备好演示数据后启动服务。")] = True,
) -> None:
    """导入自带样例语料，创建演示账户，并启动网页服务。"""
    from service.cli.demo import DEMO_PASSWORD, DEMO_USER, prepare_demo

    if serve_page:
        try:
            _check_port_free(host, port)  # before the address and login are printed as if all were well
        except XunchaError as exc:
            error_line(None, exc.code, exc.message)
            raise typer.Exit(code=1) from None
    counts = prepare_demo()
    stdout_print(
        f"示例语料已入库：{counts['documents']} 个文件，{counts['findings']} 条问题。\n"
        f"网页：http://{host}:{port}/    API 文档：http://{host}:{port}/docs\n"
        f"演示账户：用户名 {DEMO_USER}  密码 {DEMO_PASSWORD}（管理员，仅供本机演示）"
    )
    if serve_page:
        serve(host=host, port=port, workers=1, log_level="warning")


def _require_reports(count: int) -> None:
    """Every argument skipped (``xuncha analyze README.md``): say so and fail, rather than print an
    empty result that looks like a report with no findings."""
    if count == 0:
        error_line(None, "no_reports", "没有可读取的报告文件（见上方跳过的文件）")
        raise typer.Exit(code=1)


def stdout_print(message: str) -> None:
    _stdout.print(message, markup=False, highlight=False)


def main() -> None:
    """The ``xuncha`` command: a configuration problem met by any command (a bad
    ``XUNCHA_DATABASE_URL``, an unreachable database) is one Chinese line on stderr and exit 1."""
    from service.config_check import ConfigurationError

    try:
        app(prog_name="xuncha")
    except ConfigurationError as exc:
        error_line(None, exc.code, exc.message)
        sys.exit(1)


if __name__ == "__main__":
    main()
