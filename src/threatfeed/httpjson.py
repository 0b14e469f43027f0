"""JSON responses shared by every HTTP edge: compact bodies and one error shape.

An error is ``{"error": code, "message": text}`` plus ``parameter`` when one
query parameter is at fault, so clients can branch on ``error`` and show ``message``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from starlette.responses import Response


def dumps(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def json_response(
    data: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(dumps(data), status, headers, media_type="application/json")


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    parameter: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {"error": code, "message": message}
    if parameter is not None:
        body["parameter"] = parameter
    return json_response(body, status, headers)


def too_many_requests(wait: float) -> Response:
    """429 with the whole seconds to wait, never zero, in ``Retry-After``."""
    seconds = max(1, math.ceil(wait))
    return error_response(
        429,
        "rate_limited",
        f"too many requests; retry in {seconds} s",
        headers={"Retry-After": str(seconds)},
    )


def unauthorized(message: str) -> Response:
    """401 naming the credential header, with the challenge RFC 6750 asks for."""
    return error_response(
        401,
        "unauthorized",
        message,
        parameter="x-access-token",
        headers={"WWW-Authenticate": 'Bearer realm="threatfeed"'},
    )
