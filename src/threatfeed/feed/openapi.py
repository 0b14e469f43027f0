"""The OpenAPI description of the feed, written by hand so it says exactly what we serve."""

from __future__ import annotations

from typing import Any

from threatfeed import __version__
from threatfeed.feed.params import DEFAULT_PER_PAGE, ECOSYSTEMS, MAX_PAGE, MAX_PER_PAGE


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


_PAGING = [
    _query("page", "1-based page number.", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}),
    _query(
        "per_page",
        "Items per page.",
        {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE, "default": DEFAULT_PER_PAGE},
    ),
    _query(
        "since",
        "Only items whose time (added, or withdrawn for /withdrawn) is on or after this UTC date "
        "(YYYY-MM-DD) or RFC 3339 timestamp.",
        {"type": "string", "examples": ["2023-07-19", "2023-07-19T12:00:00Z"]},
    ),
    _query(
        "cursor",
        "Opaque keyset cursor from a previous page's next_cursor; stable while the feed grows.",
        {"type": "string"},
    ),
    _query("ecosystem", "Only this ecosystem.", {"type": "string", "enum": list(ECOSYSTEMS)}),
    _query("name", "Only this package name (exact).", {"type": "string", "minLength": 1}),
]

_ERROR = {
    "type": "object",
    "required": ["error", "message"],
    "properties": {
        "error": {"type": "string"},
        "message": {"type": "string"},
        "parameter": {"type": "string"},
    },
}

_ITEM = {
    "type": "object",
    "required": ["created", "ecosystem", "hashes", "indicators", "name", "version"],
    "properties": {
        "created": {
            "type": ["string", "null"],
            "description": "When the version was published to its registry (RFC 1123, GMT).",
        },
        "ecosystem": {"type": "string", "enum": list(ECOSYSTEMS)},
        "hashes": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["archive", "hash", "type"],
                "properties": {
                    "archive": {"type": "string"},
                    "hash": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                    "type": {"const": "SHA256"},
                },
            },
        },
        "indicators": {
            "type": "object",
            "description": "Rule name (snake_case, ending in _rule) to its evidence.",
        },
        "name": {"type": "string"},
        "version": {"type": "string"},
    },
}

_WITHDRAWN_ITEM = {
    "allOf": [
        _ITEM,
        {
            "type": "object",
            "required": ["withdrawn", "withdrawn_reason"],
            "properties": {
                "withdrawn": {"type": "string", "description": "RFC 1123, GMT."},
                "withdrawn_reason": {"type": ["string", "null"]},
            },
        },
    ]
}


def _page(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["has_next", "has_previous", "next_cursor", "packages"],
        "properties": {
            "has_next": {"type": "boolean"},
            "has_previous": {"type": "boolean"},
            "next_cursor": {"type": ["string", "null"]},
            "packages": {"type": "array", "items": item},
        },
    }


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ERROR}}}


def _operation(summary: str, item: dict[str, Any]) -> dict[str, Any]:
    return {
        "summary": summary,
        "parameters": _PAGING,
        "security": [{"accessToken": []}, {"bearer": []}],
        "responses": {
            "200": {
                "description": "A page of the feed, newest first.",
                "headers": {"ETag": {"schema": {"type": "string"}}},
                "content": {"application/json": {"schema": _page(item)}},
            },
            "304": {"description": "Not modified (If-None-Match matched the ETag)."},
            "400": _error("A query parameter is invalid; `parameter` names it."),
            "401": _error("The token is missing, unknown, revoked or expired."),
            "403": _error("The token is valid but the account has no threat-feed subscription."),
            "429": {
                **_error("Rate limit exceeded; retry after the given seconds."),
                "headers": {"Retry-After": {"schema": {"type": "integer"}}},
            },
        },
    }


def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "threatfeed",
            "version": __version__,
            "description": "Malicious open-source package versions, triaged by researchers.",
        },
        "paths": {
            "/": {"get": _operation("Latest threats, most recently added first.", _ITEM)},
            "/withdrawn": {
                "get": _operation(
                    "Entries withdrawn as false positives, most recently withdrawn first.",
                    _WITHDRAWN_ITEM,
                )
            },
        },
        "components": {
            "securitySchemes": {
                "accessToken": {"type": "apiKey", "in": "header", "name": "x-access-token"},
                "bearer": {"type": "http", "scheme": "bearer"},
            }
        },
    }
