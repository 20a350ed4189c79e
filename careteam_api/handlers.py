"""Errors translated once, at the boundary, into 4xx answers that say what is wrong.

Program and billing errors are told apart by their class; database errors by SQLSTATE class (psycopg's
exception hierarchy), never by message text.
"""

from __future__ import annotations

import logging
from html import escape
from urllib.parse import quote

import psycopg
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from psycopg_pool import PoolTimeout

from careteam_api.billing.errors import BillingError, PracticeNotFound
from careteam_api.errors import ApiError, NotAuthenticated
from careteam_api.program.errors import InvalidRecord, NotFound, ProgramError

log = logging.getLogger(__name__)
BUSY_RETRY = {"Retry-After": "1"}


def _page(status: int, message: str) -> str:
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Error</title>'
        '<link rel="stylesheet" href="/static/console.css"></head><body><main>'
        f"<h1>{status}</h1><p>{escape(message)}</p>"
        '<p><a href="/">Back to the console</a></p></main></body></html>'
    )


def _answer(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        if request.url.path.startswith("/api/"):
            return _answer(exc.status, exc.message, exc.headers)
        if isinstance(exc, NotAuthenticated):
            target = quote(request.url.path, safe="/")
            return RedirectResponse(f"/login?next={target}&reason={quote(exc.message)}", status_code=303)
        return HTMLResponse(_page(exc.status, exc.message), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(ProgramError)
    async def program_error(_: Request, exc: ProgramError) -> JSONResponse:
        status = 404 if isinstance(exc, NotFound) else 409 if isinstance(exc, InvalidRecord) else 422
        return _answer(status, str(exc))

    @app.exception_handler(BillingError)
    async def billing_error(_: Request, exc: BillingError) -> JSONResponse:
        return _answer(404 if isinstance(exc, PracticeNotFound) else 422, str(exc))

    @app.exception_handler(psycopg.errors.IntegrityError)
    async def integrity(_: Request, exc: psycopg.errors.IntegrityError) -> JSONResponse:
        diag = exc.diag
        return _answer(
            409,
            f"refused by the database: {diag.message_primary or 'a constraint'}"
            + (f" ({diag.constraint_name})" if diag.constraint_name else ""),
        )

    @app.exception_handler(PoolTimeout)
    async def busy(_: Request, exc: PoolTimeout) -> JSONResponse:
        log.warning("no database connection free in time: %s", exc)
        return _answer(503, "the server is busy (no database connection free); retry shortly", BUSY_RETRY)

    @app.exception_handler(psycopg.errors.DataError)
    async def data_error(_: Request, exc: psycopg.errors.DataError) -> JSONResponse:
        return _answer(422, f"a value is out of range or malformed: {exc.diag.message_primary or exc}")
