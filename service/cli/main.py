"""The `xuncha` command."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from nlp.errors import XunchaError
from nlp.extract import PdfBackend
from service.cli.analyze import OutputFormat, analyze_paths, render
from service.cli.ingest import ingest_paths
from service.cli.output import error_line, print_json, stderr
from service.cli.output import stdout as _stdout
from service.cli.segment import SegmenterChoice, render_tokens, segment_text
from service.cli.train import render_focus_report, render_report, run_training
from service.store.repository import Overrides

app = typer.Typer(
    name="xuncha",
    help="xuncha：巡察报告离线分析（提取文本、切分问题）。Offline mining of Chinese inspection reports.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """xuncha：巡察报告离线分析。"""


@app.command()
def analyze(
    files: Annotated[list[Path], typer.Argument(help="Report files: PDF, DOCX, TXT/MD (UTF-8/GBK/UTF-16), HTML.")],
    format: Annotated[OutputFormat, typer.Option("--format", "-f", help="json: machine-readable on stdout; table: for people.")] = OutputFormat.TABLE,
    pdf_backend: Annotated[PdfBackend, typer.Option(help="pdfium (fast, default) or pdfplumber (layout-aware).")] = PdfBackend.PDFIUM,
    max_size_mb: Annotated[float | None, typer.Option(help="Refuse files larger than this (default: XUNCHA_MAX_FILE_MB or 50).")] = None,
    no_text: Annotated[bool, typer.Option("--no-text", help="Leave the full document text out of the JSON.")] = False,
    debug: Annotated[bool, typer.Option(help="Show tracebacks for internal errors.")] = False,
) -> None:
    """Extract text from reports, split findings, print one result per file (exit 1 if any file failed)."""
    max_bytes = int(max_size_mb * 1024 * 1024) if max_size_mb is not None else None
    results, failures = analyze_paths(files, max_bytes=max_bytes, pdf_backend=pdf_backend, debug=debug)
    render(results, format, include_text=not no_text)
    raise typer.Exit(code=1 if failures else 0)


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Report files or folders of reports.")],
    round: Annotated[str | None, typer.Option("--round", help="Inspection round, e.g. 十四届县委第六轮 (default: from the text).")] = None,
    unit: Annotated[str | None, typer.Option("--unit", help="Inspected unit (default: from the text).")] = None,
    kind: Annotated[str | None, typer.Option("--kind", help="常规/专项/机动/回头看/交叉/提级/联动/村(社区) (default: from the text).")] = None,
    date: Annotated[str | None, typer.Option("--date", help="Report date YYYY-MM-DD (default: from the text).")] = None,
    format: Annotated[OutputFormat, typer.Option("--format", "-f")] = OutputFormat.TABLE,
) -> None:
    """Analyse reports and store them in the findings library (idempotent; one transaction per file)."""
    results, failures = ingest_paths(paths, Overrides(round=round, unit=unit, kind=kind, date=date))
    if format is OutputFormat.JSON:
        print_json(results)
    else:
        stored = sum(1 for r in results if r["status"] == "stored")
        dup = sum(1 for r in results if r["status"] == "duplicate")
        findings = sum(r.get("findings", 0) for r in results if r["status"] == "stored")
        stdout_print(f"入库 {stored} 个文件（{findings} 条问题），已存在 {dup} 个，失败 {failures} 个。")
    raise typer.Exit(code=1 if failures else 0)


@app.command()
def search(
    query: Annotated[str | None, typer.Argument(help="What to look for, in your own words.")] = None,
    like: Annotated[int | None, typer.Option("--like", help="Find findings like this finding id instead.")] = None,
    round: Annotated[str | None, typer.Option("--round", help="Only this round (substring of its label).")] = None,
    unit: Annotated[str | None, typer.Option("--unit", help="Only this unit (substring of its name).")] = None,
    label: Annotated[str | None, typer.Option("--label", help="Only findings tagged with this label.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=200)] = 10,
    format: Annotated[OutputFormat, typer.Option("--format", "-f")] = OutputFormat.TABLE,
) -> None:
    """检索问题库：语义向量、BM25 与概念匹配融合，低于相关度下限的结果不显示，并说明匹配原因。"""
    from service.library import Filters, search_library
    from service.store.db import session_factory

    if not query and like is None:
        error_line(None, "empty_query", "请给出查询内容，或用 --like 指定问题编号")
        raise typer.Exit(code=2)
    try:
        with session_factory()() as session:
            results = search_library(session, query, Filters(round, unit, label), limit, like)
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
    rounds: Annotated[list[str], typer.Option("--rounds", help="Only these rounds (repeat the option).")] = [],  # noqa: B006
    units: Annotated[list[str], typer.Option("--units", help="Only these units (repeat the option).")] = [],  # noqa: B006
    min_units: Annotated[int, typer.Option("--min-units", min=1, help="Only issues found in at least N units.")] = 1,
    limit: Annotated[int | None, typer.Option("--limit", min=1)] = None,
    singletons: Annotated[bool, typer.Option(help="List one-off findings as singleton clusters.")] = True,
    format: Annotated[OutputFormat, typer.Option("--format", "-f")] = OutputFormat.TABLE,
) -> None:
    """Common issues (共性问题) across units and rounds, ranked by how widely they recur."""
    from service.clusters import ClusterQuery, common_issues
    from service.store.db import session_factory

    try:
        with session_factory()() as session:
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
    rounds: Annotated[list[str], typer.Option("--rounds", help="Only these rounds (repeat the option).")] = [],  # noqa: B006
    top: Annotated[int, typer.Option("--top", min=1, help="How many common issues to report.")] = 8,
    format: Annotated[SummaryFormat, typer.Option("--format", "-f")] = SummaryFormat.MARKDOWN,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write (required for docx).")] = None,
) -> None:
    """共性问题分析报告: the common issues across the stored library, each sentence traceable to findings."""
    from service.store.db import session_factory
    from service.summary import build_summary, render_docx, render_markdown

    if format is SummaryFormat.DOCX and output is None:
        error_line(None, "output_required", "DOCX 格式需要用 --output 指定文件")
        raise typer.Exit(code=2)
    try:
        with session_factory()() as session:
            report = build_summary(session, rounds or None, top)
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
    output: Annotated[Path, typer.Option("--output", "-o", help="The .xlsx file to write.")] = Path("问题清单.xlsx"),
    rounds: Annotated[list[str], typer.Option("--rounds", help="Only these rounds (repeat the option).")] = [],  # noqa: B006
    format: Annotated[str, typer.Option("--format", "-f", help="xlsx (the only format).")] = "xlsx",
) -> None:
    """Export the 问题清单 and a 整改台账 sheet as an Excel/WPS workbook."""
    from service.export import export_xlsx
    from service.store.db import session_factory

    if format != "xlsx":
        error_line(None, "unsupported_format", f"不支持的导出格式：{format}（仅支持 xlsx）")
        raise typer.Exit(code=2)
    with session_factory()() as session:
        export_xlsx(session, output, rounds or None)
    stderr.print(f"已写入 {output}", markup=False)


@app.command()
def train(
    labels: Annotated[list[Path], typer.Option("--labels", help="JSONL of confirmed tags: {\"text\", \"focus\": …, \"livelihood\": [...], …}.")] = [],  # noqa: B006
    model_dir: Annotated[Path | None, typer.Option(help="Where the model lives (default: models/ or XUNCHA_MODEL_DIR).")] = None,
    taxonomy: Annotated[Path | None, typer.Option(help="Taxonomy YAML (default: corpora/taxonomy.yaml).")] = None,
    bundled: Annotated[bool, typer.Option(help="Also use corpora/training/sample_labels.jsonl.")] = True,
    bootstrap: Annotated[bool, typer.Option(help="Add confident lexicon tags of the sample corpus as pseudo-labels.")] = True,
    force: Annotated[bool, typer.Option(help="Replace the model even if it scores worse.")] = False,
    confirmed: Annotated[bool, typer.Option(help="Also learn from tags analysts confirmed in the findings library.")] = True,
    focus: Annotated[bool, typer.Option(help="Also retrain the focus model (real labelled findings + the labels above).")] = True,
    format: Annotated[OutputFormat, typer.Option("--format", "-f")] = OutputFormat.TABLE,
) -> None:
    """Retrain the tag classifier and the focus model; each is replaced only if it scores no worse."""
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
    text: Annotated[str, typer.Argument(help="Text to segment, or '-' to read standard input.")],
    backend: Annotated[SegmenterChoice, typer.Option(help="auto (rjieba, same tokens as jieba), jieba, rjieba, hanlp.")] = SegmenterChoice.AUTO,
    model_path: Annotated[Path | None, typer.Option(help="Local HanLP model folder (for --backend hanlp).")] = None,
    content: Annotated[bool, typer.Option("--content", help="Drop stop words, punctuation and numbers.")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print a JSON array of tokens.")] = False,
) -> None:
    """Segment Chinese text with the domain dictionary (分词)."""
    if text == "-":
        text = sys.stdin.read()
    try:
        tokens = segment_text(text, backend, model_path, content)
    except XunchaError as exc:
        error_line(None, exc.code, exc.message)
        raise typer.Exit(code=1) from None
    render_tokens(tokens, json_output)


user_app = typer.Typer(help="Accounts: add users, list them, issue API tokens.", no_args_is_help=True)
app.add_typer(user_app, name="user")


class RoleChoice(StrEnum):
    VIEWER = "viewer"
    ANALYST = "analyst"
    ADMIN = "admin"


@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="User name (汉字, letters, digits, . - _ @).")],
    role: Annotated[RoleChoice, typer.Option("--role", help="viewer (read), analyst (+upload, correct tags), admin (+users, delete, audit).")] = RoleChoice.VIEWER,
) -> None:
    """Create a user; the password is read twice from standard input. Prints an API token as the last word."""
    from service.accounts import Role
    from service.cli.accounts import add_user, read_password_twice

    try:
        token = add_user(name, Role(role.value), read_password_twice())
    except XunchaError as exc:
        error_line(None, exc.code, exc.message)
        raise typer.Exit(code=1) from None
    stdout_print(f"已创建用户 {name}（{role.value}）。API 令牌（只显示这一次）: {token}")


@user_app.command("token")
def user_token(
    name: Annotated[str, typer.Argument(help="An existing user.")],
    label: Annotated[str | None, typer.Option(help="What the token is for.")] = None,
) -> None:
    """Issue another API token for a user (printed as the last word)."""
    from service.cli.accounts import new_token

    try:
        token = new_token(name, label)
    except XunchaError as exc:
        error_line(None, exc.code, exc.message)
        raise typer.Exit(code=1) from None
    stdout_print(f"API 令牌（只显示这一次）: {token}")


@user_app.command("list")
def user_list(format: Annotated[OutputFormat, typer.Option("--format", "-f")] = OutputFormat.TABLE) -> None:
    """List the users and their roles."""
    from service.cli.accounts import users

    rows = users()
    if format is OutputFormat.JSON:
        print_json(rows)
        return
    for r in rows:
        stdout_print(f"{r['name']}\t{r['role']}\t{'启用' if r['active'] else '停用'}\t{r['created_at'][:19]}")


@app.command("audit")
def audit_log(
    user: Annotated[str | None, typer.Option("--user", help="Only this user's entries.")] = None,
    action: Annotated[str | None, typer.Option("--action", help="Only this action (login_failed, search, tags_changed…).")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100000)] = 50,
    format: Annotated[OutputFormat, typer.Option("--format", "-f")] = OutputFormat.TABLE,
) -> None:
    """The audit log (who viewed, searched, changed, exported what, and failed logins), newest first."""
    from service.cli.accounts import audit_rows

    rows = audit_rows(user, action, limit)
    if format is OutputFormat.JSON:
        print_json(rows)
        return
    for r in rows:
        flag = "" if r["ok"] else " ✗"
        stdout_print(f"{r['at'][:19]}  {r['user'] or '-'}  {r['action_name']}{flag}  {r['target'] or ''}")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on (default: this machine only).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=16, help="Worker processes.")] = 1,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Serve the API (/api/v1, docs at /docs) and the web page on the embedded default (SQLite, local files)."""
    import uvicorn

    from service.settings import get_settings
    from service.store.db import get_engine

    get_engine()  # create or upgrade the schema before workers start
    stderr.print(f"xuncha 服务: http://{host}:{port}/ （API 文档 /docs，数据目录 {get_settings().data_dir}）", markup=False)
    # With several workers uvicorn kills one that does not answer its supervisor's ping within the
    # timeout; a worker analysing an upload on a busy 2-core machine can miss 5 s, and the kill drops
    # the requests it was serving ("server disconnected"), so allow a minute.
    uvicorn.run("service.api.app:create_app", factory=True, host=host, port=port, workers=workers, log_level=log_level,
                proxy_headers=False, server_header=False, timeout_worker_healthcheck=60)


@app.command()
def demo(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    serve_page: Annotated[bool, typer.Option("--serve/--no-serve", help="Start the server after preparing the demo.")] = True,
) -> None:
    """Ingest the bundled sample corpus, create the demo login, and serve the web page."""
    from service.cli.demo import DEMO_PASSWORD, DEMO_USER, prepare_demo

    counts = prepare_demo()
    stdout_print(
        f"示例语料已入库：{counts['documents']} 个文件，{counts['findings']} 条问题。\n"
        f"网页：http://{host}:{port}/    API 文档：http://{host}:{port}/docs\n"
        f"演示账户：用户名 {DEMO_USER}  密码 {DEMO_PASSWORD}（管理员，仅供本机演示）"
    )
    if serve_page:
        serve(host=host, port=port, workers=1, log_level="warning")


def stdout_print(message: str) -> None:
    _stdout.print(message, markup=False, highlight=False)


def main() -> None:
    app(prog_name="xuncha")


if __name__ == "__main__":
    main()
