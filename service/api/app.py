"""The FastAPI application: API under /api/v1, OpenAPI docs at /docs, the web page at /.

Everything is served from this process and this machine: the Swagger UI and ECharts files are
vendored, so neither the API docs nor the page make a request to any other host.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from service.analysis_worker import Budget
from service.api.credentials_gate import CredentialsGateMiddleware
from service.api.deps import reject_control_characters
from service.api.errors import install_error_handlers
from service.api.middleware import BodyLimitMiddleware, SecurityHeadersMiddleware
from service.api.routes import admin, analysis, auth, documents, findings, health
from service.api.throttle import LoginThrottle
from service.jobs import JobRunner
from service.settings import Settings, get_settings
from service.store.db import session_factory

API_PREFIX = "/api/v1"
DOCS_ASSETS = Path(__file__).resolve().parent / "docs_assets"
WEB_STATIC = Path(__file__).resolve().parents[1] / "web" / "static"
log = logging.getLogger("xuncha.api")


def api_router() -> APIRouter:
    router = APIRouter(prefix=API_PREFIX, dependencies=[Depends(reject_control_characters)])
    for module in (health, auth, documents, findings, analysis, admin):
        router.include_router(module.router)
    return router


def _warm_search_index(make_session: Any, runner: JobRunner | None) -> None:
    """Build the search index, load the query encoder and start the upload analysis process before the
    first search or upload asks for them: at 20k findings that takes seconds, which the first analyst
    after a restart would otherwise wait (and every search beside a worker's first upload). A failure
    only costs the warm-up."""
    from service.live_index import IndexBuildingError, current_view
    from service.representations import configured_embedder

    try:
        with make_session() as session:
            try:
                current_view(session)
            except IndexBuildingError as exc:  # a builder process makes it; searches say so until then
                logging.getLogger(__name__).info("%s", exc.message)
        embedder = configured_embedder()
        embedder.embed(["巡察发现问题整改不到位"])  # the first upload or query should not load the model
        encode_one = getattr(embedder, "embed_query", None)
        if encode_one is not None:  # nor build the query encoder's graph
            encode_one("巡察发现问题整改情况")
        if runner is not None:  # the taggers load in the analysis process, where uploads are read
            runner.analysis.warm()
        # What is loaded now (models, thesaurus, the index) lives as long as the process. Moved out of the
        # collector's reach, it is not traversed again by every full collection — measured at 100–160 ms
        # each at 20k findings, a pause every request of the worker waits out.
        gc.freeze()
        _return_free_heap()
    except Exception:
        logging.getLogger(__name__).warning("启动时预建检索索引失败（首次检索时再建）", exc_info=True)


def _return_free_heap() -> None:
    """Hand the heap freed by the warm-up back to the system. Building the query encoder's graph
    (:mod:`nlp.e5_onnx`) allocates and frees some 40 MB; glibc keeps such memory in the process, where it
    counts against every worker (about 11 MB returned, measured). Elsewhere than glibc this does nothing."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app for ``settings`` (default: from the environment). Nothing heavy happens until start-up."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from threadpoolctl import threadpool_limits

        # A search multiplies small matrices; BLAS threads spinning on both cores for that only take
        # the CPU from other requests, from the upload worker and from the query encoder's own OpenMP
        # threads (same RPS, half the CPU, measured). Only BLAS: e5 keeps its OpenMP threads.
        threadpool_limits(limits=settings.blas_threads, user_api="blas")
        app.state.make_session = session_factory(settings.resolved_database_url)  # migrates to head once
        from service.live_index import keep_index_in

        # one base on disk, mapped by every worker
        keep_index_in(settings.data_dir, settings.resolved_database_url, inline_max=settings.inline_build_max)
        settings.uploads_dir.mkdir(parents=True, exist_ok=True)
        runner = None
        if settings.run_jobs:
            runner = JobRunner(app.state.make_session, settings.files_dir, int(settings.max_file_mb * 1024 * 1024),
                               Budget(settings.item_seconds, settings.item_memory_mb))
            runner.start()
        app.state.runner = runner
        if settings.warm_search_index:
            threading.Thread(target=_warm_search_index, args=(app.state.make_session, runner), name="xuncha-index-warm",
                             daemon=True).start()
        try:
            yield
        finally:
            if runner is not None:
                runner.stop()

    app = FastAPI(
        title="xuncha 巡察报告分析 API",
        version="0.1.0",
        description="离线分析巡察报告：上传、问题切分与标签、统计、相似问题检索、共性问题聚类与报告。"
        "除 /api/v1/health 外均需登录（网页会话）或 `Authorization: Bearer <令牌>`。",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.settings = settings
    app.state.login_throttle = LoginThrottle()
    install_error_handlers(app)
    app.include_router(api_router())
    app.add_middleware(BodyLimitMiddleware, max_bytes=int(settings.max_request_mb * 1024 * 1024))
    # runs before the body cap: an anonymous body is refused unread, a JSON body capped at max_json_kb
    app.add_middleware(CredentialsGateMiddleware, max_json_bytes=int(settings.max_json_kb * 1024))
    app.add_middleware(SecurityHeadersMiddleware)
    app.mount("/docs-assets", StaticFiles(directory=DOCS_ASSETS), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json", title="xuncha API",
            swagger_js_url="/docs-assets/swagger-ui-bundle.js", swagger_css_url="/docs-assets/swagger-ui.css",
            swagger_favicon_url="/docs-assets/favicon.png",
        )

    if WEB_STATIC.is_dir():
        app.mount("/static", StaticFiles(directory=WEB_STATIC), name="static")

        @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
        def index() -> Response:
            page = WEB_STATIC / "index.html"
            return FileResponse(page) if page.exists() else RedirectResponse("/docs")

        @app.api_route("/login", methods=["GET", "HEAD"], include_in_schema=False)
        def login_page() -> Response:
            page = WEB_STATIC / "login.html"
            return FileResponse(page) if page.exists() else RedirectResponse("/")

    return app
