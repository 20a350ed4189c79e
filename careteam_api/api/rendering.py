"""JSON answers serialised straight from plain values, for the read paths clients call most.

FastAPI validates what a handler returns against its response model (in a thread of its own for a sync
handler) and then serialises it. For a 90-day trend, building the models and validating them again was the
largest share of the server's Python time per request. Handlers that build their answer from database rows
already in the model's shape keep `response_model` (so the OpenAPI document stays exact) and return
`json_response(...)`; tests/test_api_endpoints.py holds their bytes to exactly what the model would write.
"""

from __future__ import annotations

from typing import Any

import pydantic_core
from fastapi.responses import Response


def json_response(payload: dict[str, Any]) -> Response:
    """`payload` as JSON, encoded by pydantic-core (datetimes and UUIDs as the response models write them)."""
    return Response(content=pydantic_core.to_json(payload), media_type="application/json")
