"""Errors to HTTP answers: one table from error class to status code.

Every error answer has the same body, ``{"error": {"code", "message", "field"}}``
(``field`` is null when no single input is to blame), plus ``rule`` for a rule
violation and ``problems`` when a request fails validation in several places.
Messages come from the domain, which names fields and rules but never values;
this module never copies request input into an answer.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from crypto.subject_keys import KeyRemnantError
from domain.errors import (
    AccessRefusedError,
    AuditUnavailableError,
    AuthenticationError,
    CalendarYearUnknownError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    PersonalDataDestroyedError,
    RuleViolationError,
    TaizhangError,
)


class MalformedJsonError(TaizhangError):
    """The request body is not JSON at all."""

    code = "malformed_json"


class ServiceUnavailableError(TaizhangError):
    """A collaborator the endpoint needs (a projection) is not running."""

    code = "unavailable"


# The one table. Lookup walks the error's class hierarchy, so subclasses
# (InvalidIdentifierError, ConcurrentWriteError, IdempotencyConflictError) follow
# their parents unless listed themselves; TaizhangError catches the rest.
STATUS: dict[type[TaizhangError], int] = {
    MalformedJsonError: 400,
    AuthenticationError: 401,
    PermissionDeniedError: 403,
    NotFoundError: 404,
    ConflictError: 409,
    RuleViolationError: 409,
    InvalidInputError: 422,
    PersonalDataDestroyedError: 410,
    CalendarYearUnknownError: 503,  # the server's calendar lacks a year: configuration
    KeyRemnantError: 503,
    AuditUnavailableError: 503,  # the access record could not be written: no data
    ServiceUnavailableError: 503,
    TaizhangError: 500,
}

_PARAMETER_SOURCES = frozenset({"body", "query", "path", "header", "cookie"})


def status_for(exc: TaizhangError) -> int:
    """The status code of the nearest class of ``exc`` that the table lists."""
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500  # unreachable: TaizhangError is in the table


def field_of(exc: TaizhangError) -> str | None:
    """The input an error blames, if any."""
    if isinstance(exc, InvalidInputError):
        return exc.field
    return None


def error_body(
    code: str, message: str, field: str | None = None, **extra: Any
) -> dict[str, dict[str, Any]]:
    return {"error": {"code": code, "message": message, "field": field, **extra}}


def taizhang_error_response(exc: TaizhangError) -> JSONResponse:
    """The answer for one of the service's own errors."""
    status = status_for(exc)
    extra: dict[str, Any] = {}
    if isinstance(exc, RuleViolationError):
        extra["rule"] = exc.rule
    if isinstance(exc, AccessRefusedError):
        extra["reason"] = exc.reason  # the refusal code stored in the access record
    message = exc.message if status != 500 else "the service could not complete the request"
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(
        error_body(exc.code, message, field_of(exc), **extra), status_code=status, headers=headers
    )


def dotted(loc: tuple[int | str, ...] | list[int | str]) -> str | None:
    """``("body", "materials", 2)`` → ``"materials.2"``; ``("body",)`` → None."""
    parts = list(loc)
    if parts and parts[0] in _PARAMETER_SOURCES:
        parts = parts[1:]
    return ".".join(str(p) for p in parts) or None


def _problem(error: dict[str, Any]) -> dict[str, str | None]:
    """One validation problem, from pydantic's error without its ``input`` (a value)."""
    field = dotted(error.get("loc", ()))
    kind = error.get("type", "")
    if field is None and kind in ("model_attributes_type", "dict_type", "missing"):
        message = "the request body must be a JSON object (Content-Type: application/json)"
    else:
        message = f"{field or 'request'}: {error.get('msg', 'is not valid')}"
    return {"field": field, "message": message}


def validation_error_response(exc: RequestValidationError) -> JSONResponse:
    """422 naming the first bad field (400 when the body is not JSON)."""
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return taizhang_error_response(MalformedJsonError("the request body is not valid JSON"))
    problems = [_problem(e) for e in errors] or [{"field": None, "message": "invalid request"}]
    first = problems[0]
    body = error_body("invalid_input", str(first["message"]), first["field"], problems=problems)
    return JSONResponse(body, status_code=422)


_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}


def http_error_response(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    """Routing errors (unknown path, wrong method) in the same format."""
    if exc.status_code == 404:
        message = f"no such endpoint: {request.method} {request.url.path}"
    elif exc.status_code == 405:
        message = f"{request.method} is not allowed on {request.url.path}"
    else:
        message = str(exc.detail)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    return JSONResponse(error_body(code, message), status_code=exc.status_code, headers=exc.headers)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers; routes never catch errors themselves."""

    async def on_taizhang_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, TaizhangError)
        return taizhang_error_response(exc)

    async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return validation_error_response(exc)

    async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        return http_error_response(request, exc)

    app.add_exception_handler(TaizhangError, on_taizhang_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
