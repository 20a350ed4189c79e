"""Property-based requests generated from the OpenAPI description: no input gets a 5xx, and every answer
matches the status codes and schemas the description declares. Bounded: a few examples per operation."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error

from tests.test_api_support import World, auth, scratch_database, seed, serve, settings_for, token_for

pytest_plugins = ["tests.test_api_support"]


@pytest.fixture(scope="module")
def fuzz_target(database_url: str) -> Iterator[tuple[str, World]]:
    """Its own database: generated requests create records that other tests must not see."""
    with scratch_database(database_url) as url:
        world = seed(url)
        with serve(settings_for(url)) as base:
            yield base, world


def _operations(base: str) -> list:
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    return [result.ok() for result in schema.get_all_operations()]


def test_no_input_gets_a_server_error(fuzz_target: tuple[str, World]) -> None:
    base, world = fuzz_target
    headers = auth(token_for(base, world.a.users["clinician"]))
    operations = _operations(base)
    assert len(operations) >= 30
    for operation in operations:

        @settings(
            max_examples=4,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(), aim=st.booleans())
        def check(case: schemathesis.Case, aim: bool) -> None:
            if aim and case.path_parameters and "patient_id" in case.path_parameters:
                # Half the examples aim at a real patient so the handlers behind tenancy run too.
                case.path_parameters["patient_id"] = str(world.a.patient_id)
            response = case.call(headers=headers, timeout=30)
            case.validate_response(response, checks=[not_a_server_error])

        check()
