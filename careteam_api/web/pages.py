"""Console pages: login, the alert queue (care managers), the patient list, the patient page (trends)."""

from __future__ import annotations

from importlib import resources
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from careteam_api import alert_marks, audit, devices, directory, progress, vitals
from careteam_api.api.scope import ClinicalPatient, DirectoryUser
from careteam_api.auth import sessions
from careteam_api.auth.deps import SESSION_COOKIE, CurrentUser, Settings, client_ip
from careteam_api.auth.login import attempt_login
from careteam_api.auth.roles import Capability, allows
from careteam_api.auth.sessions import Principal
from careteam_api.auth.tokens import csrf_token
from careteam_api.db import DbSession
from careteam_api.errors import TooManyAttempts
from careteam_api.program.care_plans import history
from careteam_api.thresholds import limits_for

router = APIRouter(include_in_schema=False)


def templates() -> Jinja2Templates:
    """Built once per app (create_app): Jinja2 compiles each template once and caches it."""
    from careteam_api.program.care_plan_page import describe_item

    built = Jinja2Templates(directory=str(resources.files("careteam_api") / "templates"))
    built.env.filters["plan_item"] = describe_item
    return built


def _render(
    request: Request, name: str, user: Principal | None, status: int = 200, **context: Any
) -> HTMLResponse:
    settings = request.app.state.settings
    extra = {}
    if user is not None:
        extra = {
            "csrf": csrf_token(settings.session_secret.get_secret_value(), user.token),
            "can": {c.value: allows(user.role, c) for c in Capability},
        }
    return request.app.state.templates.TemplateResponse(
        request,
        name,
        {
            "user": user,
            "idle_minutes": settings.idle_timeout_minutes,
            "alert_actions": request.app.state.alert_actions,
            **extra,
            **context,
        },
        status_code=status,
    )


@router.get("/")
def home(user: CurrentUser) -> RedirectResponse:
    return RedirectResponse("/queue" if user.role == "care_manager" else "/patients", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/", reason: str | None = None) -> HTMLResponse:
    return _render(request, "login.html", None, next=next if next.startswith("/") else "/", reason=reason)


@router.post("/login", response_model=None)
def login(
    request: Request,
    conn: DbSession,
    settings: Settings,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=1024)],
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    ip = client_ip(request, settings)
    target = next if next.startswith("/") and not next.startswith("//") else "/"
    try:
        user_id = attempt_login(conn, settings, email, password, ip)
    except TooManyAttempts as exc:
        return _render(request, "login.html", None, status=429, next=target, error=exc.message)
    if user_id is None:
        return _render(
            request, "login.html", None, status=401, next=target, error="Wrong e-mail or password."
        )
    token, _ = sessions.create(
        conn, settings, user_id, "console", ip=ip, user_agent=request.headers.get("user-agent")
    )
    response = RedirectResponse(target, status_code=303)
    secure = settings.cookie_secure == "always" or (
        settings.cookie_secure == "auto" and request.url.scheme == "https"
    )
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=secure,
        max_age=int(settings.session_max_hours * 3600),
        path="/",
    )
    return response


@router.post("/logout")
def logout(user: CurrentUser, conn: DbSession) -> RedirectResponse:
    sessions.revoke(conn, user.session_id, "logout")
    response = RedirectResponse("/login?reason=logged_out", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/patients", response_class=HTMLResponse)
def patient_list(
    request: Request, conn: DbSession, user: DirectoryUser, q: str | None = None, cursor: str | None = None
) -> HTMLResponse:
    clinical = allows(user.role, Capability.CLINICAL_READ)
    rows, next_cursor = directory.list_patients(
        conn,
        user.practice_id,
        search=(q or "")[:100].replace("\x00", "") or None,
        after=directory.decode_cursor(cursor) if cursor else None,
        limit=50,
        with_vitals=clinical,
        with_alerts=clinical and request.app.state.alerts_tables,
    )
    audit.record(conn, request, user, patient_id=None, patients=len(rows), search=q)
    return _render(
        request,
        "patients.html",
        user,
        rows=rows,
        q=q or "",
        next_url=f"/patients?cursor={quote(next_cursor)}&q={quote(q or '')}" if next_cursor else None,
    )


def _context(conn: DbSession, patient: Any, alerts_tables: bool) -> dict[str, Any]:
    """What a care manager or clinician sees of a patient beside an alert or on the patient page."""
    plans = history(conn, patient.patient_id)
    month, result = progress.patient_progress(conn, patient.patient_id, patient.timezone)
    return {
        "patient": patient,
        "contact": directory.contact(conn, patient.patient_id),
        "latest": vitals.latest(conn, patient.patient_id),
        "plan": plans[-1] if plans else None,
        "limits": limits_for(plans[-1].alert_thresholds if plans else None),
        "progress_month": month,
        "progress": result,
        "devices": devices.patient_devices(conn, patient.patient_id),
        "open_alerts": alert_marks.open_count(conn, patient.practice_id, patient.patient_id)
        if alerts_tables
        else None,
    }


@router.get("/patients/{patient_id}", response_class=HTMLResponse)
def patient_page(patient: ClinicalPatient, request: Request, conn: DbSession) -> HTMLResponse:
    context = _context(conn, patient, request.app.state.alerts_tables)
    return _render(request, "patient.html", patient.user, **context)


@router.get("/patients/{patient_id}/context", response_class=HTMLResponse)
def patient_context(patient: ClinicalPatient, request: Request, conn: DbSession) -> HTMLResponse:
    """The side panel of the queue page (loaded when an alert is selected)."""
    context = _context(conn, patient, request.app.state.alerts_tables)
    return _render(request, "_context.html", patient.user, **context)


@router.get("/queue", response_class=HTMLResponse)
def queue(request: Request, conn: DbSession, user: CurrentUser) -> HTMLResponse:
    if not allows(user.role, Capability.CLINICAL_READ):
        return _render(
            request, "error.html", user, status=403, message="The alert queue is for the care team."
        )
    rows = alert_marks.queue(conn, user.practice_id) if request.app.state.alerts_tables else None
    audit.record(conn, request, user, patient_id=None, alerts=len(rows or []))
    return _render(request, "queue.html", user, alerts=rows)
