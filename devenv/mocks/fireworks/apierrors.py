"""The errors the mock answers with, in Fireworks' own body shapes.

These are HTTP answers to a client, not :class:`devenv.errors.DevenvError`: the mock keeps running.
Fireworks answers 401 with a short body of its own, and everything else as
``{"error": {"object": "error", "type": ..., "message": ..., "param": ..., "code": ...}}``.
"""

from __future__ import annotations

from typing import Any

UNAUTHORIZED_BODY: dict[str, Any] = {
    "error": {
        "message": "The API key you provided is invalid.",
        "code": "UNAUTHORIZED",
        "type": "error",
    }
}


class ApiError(Exception):
    """An HTTP error answer: status, Fireworks-shaped body and extra headers."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str = "INVALID_ARGUMENT",
        type: str = "invalid_request_error",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.type = type
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "object": "error",
                "type": self.type,
                "message": self.message,
                "param": self.param,
                "code": self.code,
            }
        }


def bad_request(message: str, param: str | None) -> ApiError:
    return ApiError(400, message, param=param)


def reject_unknown_fields(body: dict[str, Any], allowed: frozenset[str] | set[str]) -> None:
    """Fireworks' 400 for a field it does not take, in its exact wording: clients parse
    "field: '...'" out of it to drop the field and retry."""
    for key, value in body.items():
        if key not in allowed:
            raise bad_request(
                f"Extra inputs are not permitted, field: {key!r}, value: {value!r}", key
            )


def unknown_model(model: str) -> ApiError:
    return ApiError(
        404,
        "Model not found, inaccessible, and/or not deployed",
        param="model",
        code="NOT_FOUND",
    )


def not_found(path: str) -> ApiError:
    return ApiError(404, f"No route for {path}", code="NOT_FOUND")


def method_not_allowed(method: str, path: str) -> ApiError:
    return ApiError(405, f"Method {method} is not allowed on {path}", code="METHOD_NOT_ALLOWED")


def rate_limited(retry_after_ms: int) -> ApiError:
    seconds = max(1, -(-retry_after_ms // 1000))
    return ApiError(
        429,
        "Request rate limit exceeded, please try again later",
        code="RATE_LIMIT_EXCEEDED",
        type="rate_limit_error",
        headers={
            # The SDKs prefer retry-after-ms (precise) and fall back to retry-after (seconds).
            "retry-after": str(seconds),
            "retry-after-ms": str(retry_after_ms),
            "x-ratelimit-remaining-requests": "0",
            "x-ratelimit-over-limit": "yes",
        },
    )


def internal_error() -> ApiError:
    return ApiError(
        500,
        "Internal server error (injected by the devenv Fireworks mock)",
        code="INTERNAL",
        type="internal_server_error",
    )


def overloaded() -> ApiError:
    return ApiError(
        503,
        "The server is overloaded, please try again later",
        code="UNAVAILABLE",
        type="service_unavailable",
    )
