"""Tenancy on every route, generated from the app's route table: a user of practice B gets 404 for any
patient, hub, entry, consent or alert of practice A, whatever B's role."""

from __future__ import annotations

import re
from datetime import date

import httpx
import pytest
from fastapi.routing import APIRoute

from careteam_api.app import create_app, flat_routes
from tests.test_api_support import ROLES, World, auth, settings_for

pytest_plugins = ["tests.test_api_support"]

# Path parameters that name a practice's record; a route with any of them must be tenancy-scoped.
SCOPED_PARAMS = {"patient_id", "hub_id", "entry_id", "consent_id", "alert_id"}


def _scoped_routes() -> list[tuple[str, str]]:
    app = create_app(settings_for("postgresql://unused/never-connected"))
    found = []
    for route in flat_routes(app.routes):
        if not isinstance(route, APIRoute):
            continue
        params = set(re.findall(r"{(\w+)}", route.path))
        if params & SCOPED_PARAMS:
            found += [(method, route.path) for method in sorted(route.methods - {"HEAD"})]
    return found


SCOPED_ROUTES = _scoped_routes()


def _fill(path: str, world: World) -> str:
    a = world.a
    values = {
        "patient_id": str(a.patient_id),
        "hub_id": a.hub_id,
        "entry_id": str(a.entry_id),
        "consent_id": str(a.consent_id),
        "alert_id": str(a.alert_id),
        "month": f"{date.today():%Y-%m}",
    }
    return re.sub(r"{(\w+)}", lambda m: values[m.group(1)], path)


def test_the_route_table_has_scoped_routes() -> None:
    paths = {path for _, path in SCOPED_ROUTES}
    assert "/api/v1/patients/{patient_id}/trends" in paths
    assert "/api/v1/hubs/{hub_id}" in paths
    assert "/patients/{patient_id}" in paths  # console pages are scoped the same way
    assert len(SCOPED_ROUTES) >= 20


@pytest.mark.parametrize(("method", "path"), SCOPED_ROUTES, ids=[f"{m} {p}" for m, p in SCOPED_ROUTES])
def test_other_practice_gets_404(
    method: str, path: str, api_url: str, api_world: World, tokens: dict[tuple[str, str], str]
) -> None:
    url = api_url + _fill(path, api_world)
    for role in ROLES:
        resp = httpx.request(method, url, headers=auth(tokens[("b", role)]), json={})
        assert resp.status_code == 404, (
            f"{role} of practice B: {method} {path} -> {resp.status_code} {resp.text}"
        )


@pytest.mark.parametrize(
    ("method", "path"),
    [(m, p) for m, p in SCOPED_ROUTES if m == "GET" and "alert_id" not in p],
    ids=[f"{m} {p}" for m, p in SCOPED_ROUTES if m == "GET" and "alert_id" not in p],
)
def test_own_practice_can_read(
    method: str, path: str, api_url: str, api_world: World, tokens: dict[tuple[str, str], str]
) -> None:
    """The control: the same URLs answer 200 to some role of practice A, so 404 above is tenancy."""
    url = api_url + _fill(path, api_world)
    codes = {role: httpx.get(url, headers=auth(tokens[("a", role)])).status_code for role in ROLES}
    assert 200 in codes.values(), codes
