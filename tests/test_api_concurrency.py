"""More concurrent requests than the server has threads, on pools of two connections: every one answers.

Each step of a request after it has its connection runs in the server's thread pool (40 threads). Requests
beyond the pool's size must wait for a connection without holding a thread, or the threads all end up
waiting while the requests that hold the connections get none to finish on (until the pool times out and
answers 503)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.test_api_support import World, auth, scratch_database, seed, serve, settings_for, token_for

pytest_plugins = ["tests.test_api_support"]

CLIENTS = 60  # more than the 40 threads of the server's pool
REQUESTS = 180


@pytest.fixture(scope="module")
def small_pool_server(database_url: str) -> Iterator[tuple[str, World]]:
    """Its own database: the audit rows of these reads must not show in other tests' audit trails."""
    with scratch_database(database_url) as url:
        world = seed(url)
        with serve(settings_for(url, pool_max_size=2, read_pool_max_size=2)) as base:
            yield base, world


def test_more_clients_than_threads_and_connections_all_get_answers(
    small_pool_server: tuple[str, World],
) -> None:
    base, world = small_pool_server
    headers = auth(token_for(base, world.a.users["clinician"]))
    paths = [
        f"/api/v1/patients/{world.a.patient_id}/trends",
        "/api/v1/patients",
        f"/api/v1/patients/{world.b.patient_id}/trends",  # another practice's: 404, rolled back
    ]

    def call(index: int) -> tuple[str, int]:
        path = paths[index % len(paths)]
        return path, httpx.get(base + path, headers=headers, timeout=120).status_code

    with ThreadPoolExecutor(CLIENTS) as clients:
        answers = list(clients.map(call, range(REQUESTS)))
    expected = [(path, 404 if str(world.b.patient_id) in path else 200) for path, _ in answers]
    assert answers == expected
