"""How the API answers a request it cannot serve: one JSON shape, the right status.

Every refusal is ``{"code", "message"}`` (:class:`ErrorBody`) with a message that says
what was wrong and what to do. The gateway's refusals arrive as
:class:`~ratchet.runtime.ActorError` carrying the original exception's type name;
:func:`problem_of` turns them into statuses by their
:class:`~ratchet._contract.calls.ErrorCode` (a malformed request 400, a token 401, a
role 403, a tenant limit 429), and an engine that is restarting 503. Anything else is
a bug of the engine and stays a 500. (One refusal comes before any of this: a body over
the app's size limit gets Starlette's plain-text 413 while it is still arriving.)
"""

from __future__ import annotations

import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from ratchet._contract.calls import ErrorCode, error_code
from ratchet._errors import AuthenticationError, PermissionDeniedError, TenantLimitError
from ratchet.runtime import ActorDeadError, ActorError, AskTimeout

__all__ = ["ApiProblem", "ErrorBody", "install_error_handlers", "not_found", "problem_of"]


class ErrorBody(BaseModel):
    """Why a request was refused.

    Attributes:
        code: what kind of refusal (``invalid_request``, ``unauthenticated``,
            ``forbidden``, ``not_found``, ``limited``, ``unavailable``, ...).
        message: what was wrong, and what to do about it.
    """

    code: str
    message: str


class ApiProblem(Exception):
    """A refusal with its HTTP status, raised by routes and turned into an :class:`ErrorBody`."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
        super().__init__(message)


def not_found(what: str, object_id: str) -> ApiProblem:
    """The 404 for an object this tenant has no trace of (another tenant's answers the same)."""
    return ApiProblem(404, "not_found", f"no {what} with id {object_id!r}")


_REFUSALS: dict[ErrorCode, tuple[int, str]] = {
    ErrorCode.REQUEST: (400, "invalid_request"),
    ErrorCode.TRIGGER: (400, "invalid_request"),
    ErrorCode.CRON: (400, "invalid_request"),
    ErrorCode.CEL: (400, "invalid_request"),
    ErrorCode.NON_DETERMINISM: (400, "invalid_request"),
    ErrorCode.UNAUTHENTICATED: (401, "unauthenticated"),
    ErrorCode.FORBIDDEN: (403, "forbidden"),
    ErrorCode.LIMITED: (429, "limited"),
}


_HTTP_CODES = {
    400: "invalid_request",
    404: "not_found",
    405: "method_not_allowed",
}


def problem_of(exc: Exception) -> ApiProblem | None:
    """The refusal an engine error means to an HTTP client; None for an engine bug (a 500)."""
    if isinstance(exc, ActorError):
        code = error_code(exc.error_type)
        refusal = None if code is None else _REFUSALS.get(code)
        if refusal is None:
            return None
        status, name = refusal
        if code is ErrorCode.LIMITED:
            return _limited(exc)
        return ApiProblem(status, name, exc.error_message)
    if isinstance(exc, AskTimeout | ActorDeadError):
        return ApiProblem(503, "unavailable", "the engine is restarting; try again in a moment")
    return None


def _limited(exc: ActorError) -> ApiProblem:
    """The 429 of a tenant over a limit, with ``Retry-After`` (whole seconds) when waiting helps."""
    cause = exc.__cause__
    limit = cause if isinstance(cause, TenantLimitError) else TenantLimitError.from_message(exc.error_message)
    headers = None
    if limit.retry_after is not None:
        headers = {"Retry-After": str(max(1, math.ceil(limit.retry_after)))}
    return ApiProblem(429, "limited", exc.error_message, headers)


def _validation_message(errors: Any) -> str:
    problems = []
    for err in errors:
        where = ".".join(str(p) for p in err.get("loc", ())) or "request"
        problems.append(f"{where}: {err.get('msg', 'invalid')}")
    return "the request is invalid: " + "; ".join(problems)


def _answer(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(ErrorBody(code=code, message=message).model_dump(), status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Make every refusal of ``app`` an :class:`ErrorBody` with its status."""

    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiProblem)
        return _answer(exc.status, exc.code, exc.message, exc.headers)

    async def on_invalid(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return _answer(422, "invalid_request", _validation_message(exc.errors()))

    async def on_unauthenticated(request: Request, exc: Exception) -> JSONResponse:
        return _answer(401, "unauthenticated", str(exc), {"WWW-Authenticate": "Bearer"})

    async def on_forbidden(request: Request, exc: Exception) -> JSONResponse:
        return _answer(403, "forbidden", str(exc))

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        status = exc.status_code
        message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if status == 404 and message == "Not Found":
            message = f"no route {request.url.path!r}; /docs lists the routes"
        elif status == 400:  # a body FastAPI could not read at all
            message = (
                "the request body could not be read as JSON (not UTF-8, or nested too deeply): "
                "send a JSON object"
            )
        return _answer(status, _HTTP_CODES.get(status, "http_error"), message)

    app.add_exception_handler(ApiProblem, on_problem)
    app.add_exception_handler(RequestValidationError, on_invalid)
    app.add_exception_handler(AuthenticationError, on_unauthenticated)
    app.add_exception_handler(PermissionDeniedError, on_forbidden)
    app.add_exception_handler(HTTPException, on_http)
