"""The status page as a FastAPI application: server-rendered Jinja2 pages, no JavaScript build.

Routes: ``/`` (overview), ``/study/{key}`` (one study), its pictures and files by name or number
from the study's own list, ``/healthz`` (JSON), ``/metrics`` (Prometheus text), ``/static/style.css``.
Every route needs the configured credential when there is one (:mod:`processor.web.auth`).
"""
from __future__ import annotations

import functools
import logging
import time
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pydicom
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.exceptions import HTTPException as StarletteHTTPException

from processor.config import Section
from processor.web.auth import COOKIE, Guard
from processor.web.metrics import metrics_text
from processor.web.pictures import Pictures
from processor.web.state import PICTURES, State, Study
from spectssp import RESEARCH_BANNER, __version__

log = logging.getLogger(__name__)

NOT_FOUND = PlainTextResponse("not found\n", status_code=404)
_CSS = resources.files("processor.web").joinpath("static/style.css").read_bytes()


def create_app(cfg: Section, clock: Any = time.time) -> FastAPI:
    """The application for one configuration (its state folder and result folders)."""
    web = cfg.web
    guard = Guard(web)
    state = State(cfg, clock=clock)
    pictures = Pictures(hide_identifiers=not web.show_patient_identifiers)
    env = Environment(loader=PackageLoader("processor.web", "templates"), autoescape=select_autoescape(["html"]))
    env.filters["age"] = _age
    env.filters["clock"] = lambda t: time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) if t else "-"
    templates = Jinja2Templates(env=env)
    app = FastAPI(title="spectssp status", docs_url=None, redoc_url=None, openapi_url=None)
    common = {"banner": RESEARCH_BANNER, "version": __version__, "refresh_s": web.refresh_s,
              "show_ids": web.show_patient_identifiers}

    @app.middleware("http")
    async def authenticate(request: Request, call_next):
        if not guard.required:
            return await call_next(request)
        query_token = request.query_params.get("token")
        if query_token is not None and guard.token_ok(query_token):   # once: cookie, then a clean address
            rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
            target = request.url.path + ("?" + urlencode(rest) if rest else "")
            resp = RedirectResponse(target, status_code=303)
            resp.set_cookie(COOKIE, query_token, httponly=True, samesite="strict")
            return resp
        auth = request.headers.get("authorization")
        if guard.token_ok(guard.bearer(auth)) or guard.token_ok(request.cookies.get(COOKIE)) or guard.basic_ok(auth):
            return await call_next(request)
        challenge = 'Basic realm="spectssp", charset="UTF-8"' if guard.user else 'Bearer realm="spectssp"'
        return PlainTextResponse("authentication required\n", status_code=401,
                                 headers={"WWW-Authenticate": challenge})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        # every unknown address (traversal attempts included) gets the same plain 404
        return PlainTextResponse(f"{exc.detail}\n".lower(), status_code=exc.status_code)

    @app.get("/")
    def overview(request: Request) -> Response:
        o = state.overview()
        patients = {st.key: _patient(st) for st in o["recent"] + o["problems"]} if web.show_patient_identifiers else {}
        return templates.TemplateResponse(request, "overview.html", {**common, **o, "patients": patients})

    @app.get("/study/{key}")
    def study(request: Request, key: str) -> Response:
        st = state.study(key)
        if st is None:
            return NOT_FOUND
        return templates.TemplateResponse(request, "study.html", {
            **common, "s": st, "history": state.history(st.job.id), "patient": _patient(st) if web.show_patient_identifiers else None,
            "now": clock()})

    @app.get("/study/{key}/picture/{name}")
    def picture(key: str, name: str, thumb: bool = False) -> Response:
        st = state.study(key)
        path = _picture_path(st, name) if st is not None and name in PICTURES else None
        if path is None:
            return NOT_FOUND
        data = pictures.png(path, sheet=name in ("decrease", "increase"), thumbnail=thumb)
        return Response(data, media_type="image/png", headers={"Cache-Control": "private, max-age=60"})

    @app.get("/study/{key}/file/{index}")
    def download(key: str, index: int) -> Response:
        st = state.study(key)
        if st is None or not 0 <= index < len(st.downloads):
            return NOT_FOUND
        label, path = st.downloads[index]
        media = "application/json" if path.suffix == ".json" else "application/dicom"
        return FileResponse(path, media_type=media, filename=path.name)

    @app.get("/healthz")
    def healthz() -> Response:
        h = state.health()
        return JSONResponse(h, status_code=200 if h["daemon_alive"] else 503)

    @app.get("/metrics")
    def metrics() -> Response:
        return PlainTextResponse(metrics_text(state.health()), media_type="text/plain; version=0.0.4")

    @app.get("/static/style.css")
    def css() -> Response:
        return Response(_CSS, media_type="text/css", headers={"Cache-Control": "max-age=300"})

    return app


def _picture_path(st: Study, name: str) -> Path | None:
    return st.pictures.get(name) or st.pictures.get(name + "_dicom")


def _patient(st: Study) -> dict[str, str] | None:
    """Name and ID from one of the study's DICOM outputs (they carry the source's patient module)."""
    for label, path in st.downloads:
        if path.suffix == ".dcm":
            try:
                return _patient_of(str(path), path.stat().st_mtime_ns)
            except Exception:  # an unreadable output: the page shows no identifiers rather than failing
                log.debug("cannot read the patient module of an output", exc_info=True)
                return None
    return None


@functools.lru_cache(maxsize=512)
def _patient_of(path: str, mtime_ns: int) -> dict[str, str]:
    """(cached: the overview asks for every card at every reload)"""
    ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["PatientName", "PatientID"])
    return {"name": str(ds.get("PatientName", "") or ""), "id": str(ds.get("PatientID", "") or "")}


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = max(0, int(seconds))
    if s < 120:
        return f"{s} s"
    if s < 7200:
        return f"{s // 60} min"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"
