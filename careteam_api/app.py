"""The FastAPI application: JSON API under /api/v1, the console at /, static files, OpenAPI at /docs.

Nothing happens at import: `create_app(settings)` builds the app; the pool opens in the lifespan.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager
from importlib import resources

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.routing import BaseRoute

from careteam_api import alert_marks, handlers
from careteam_api.api import auth, billing, care_plans, consent, devices, fhir, patients, time_entries, vitals
from careteam_api.db import gate, open_pool, open_read_pool
from careteam_api.settings import ApiSettings

ROUTERS = (auth, patients, vitals, time_entries, consent, care_plans, devices, billing, fhir)


def flat_routes(routes: Iterable[BaseRoute]) -> Iterator[BaseRoute]:
    """Every route of the app, looking into included routers (FastAPI may keep them nested)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from flat_routes(inner.routes)
        else:
            yield route


def _alerts_router() -> APIRouter | None:
    """The alert queue's router, when the alert engine's service is installed."""
    try:
        from careteam_api.api import alerts
    except ImportError:
        return None
    return alerts.router


def create_app(settings: ApiSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = open_pool(settings, max_size=settings.pool_size_per_worker)
        read_pool = open_read_pool(settings)
        try:
            await read_pool.open(wait=True, timeout=30)
            with pool.connection() as conn:
                app.state.alerts_tables = alert_marks.tables_exist(conn)
            app.state.pool, app.state.read_pool = pool, read_pool
            app.state.db_gate, app.state.read_gate = gate(pool), gate(read_pool)
            yield
        finally:
            pool.close()
            await read_pool.close()

    app = FastAPI(
        title="rpm-gateway care-team API",
        version="1.0.0",
        description=(
            "Patients, vitals trends, readings, time logs, consent, care plans, devices, billing reports and "
            "FHIR R4 export for a practice's care team. Authenticate with a bearer token from "
            "POST /api/v1/auth/tokens, or with the console's session cookie (then send X-CSRF-Token on "
            "changes). Every record is scoped to the caller's practice: another practice's ids answer 404."
        ),
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.alerts_tables = False
    app.state.alert_actions = False
    handlers.install(app)
    for module in ROUTERS:
        app.include_router(module.router)
    extra = _alerts_router()
    if extra is not None:
        app.include_router(extra)
        app.state.alert_actions = True
    from careteam_api.web import pages

    app.state.templates = pages.templates()
    app.include_router(pages.router)
    app.mount(
        "/static", StaticFiles(directory=str(resources.files("careteam_api") / "static")), name="static"
    )
    return app
