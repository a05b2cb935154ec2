"""The FastAPI application: every router, the error handlers, the backend it serves from.

``create_app(backend)`` builds the app the engine serves with hypercorn (see
:mod:`._server`) and tests drive in-process. ``/openapi.json`` (OpenAPI 3.1) and
``/docs`` come from the same pydantic models the routes validate with, most of them the
wire contract's own request models.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.routing import APIRoute

from ..webhooks import webhook_router
from . import (
    _crons,
    _events,
    _filters,
    _limits,
    _meta,
    _metrics,
    _rate_limits,
    _runs,
    _schedules,
    _tasks,
    _tenants,
    _tokens,
    _webhooks,
    _workers,
    _workflows,
)
from ._backend import ApiBackend
from ._errors import ErrorBody, install_error_handlers

__all__ = ["DEFAULT_MAX_BODY_BYTES", "create_app"]

_REFUSALS: dict[int | str, dict[str, object]] = {
    400: {"model": ErrorBody, "description": "The engine refused the request; the message says why."},
    401: {"model": ErrorBody, "description": "No valid API token."},
    403: {"model": ErrorBody, "description": "The token's role may not do this."},
    429: {"model": ErrorBody, "description": "The tenant is over one of its limits; see Retry-After."},
    422: {"model": ErrorBody, "description": "The request does not have the documented shape."},
}


#: The largest request body read, in bytes: above the engine's default payload limit
#: (64 MiB of msgpack), with room for JSON's longer spelling of the same values.
DEFAULT_MAX_BODY_BYTES = 100 * 1024 * 1024


def _operation_id(route: APIRoute) -> str:
    return route.name


def create_app(backend: ApiBackend, *, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> FastAPI:
    """The REST API answering from ``backend``'s engine.

    Args:
        backend: authenticates tokens and hands out each tenant's gateway.
        max_body_bytes: a larger request body is refused (413) before it is read whole.
    """
    app = FastAPI(
        max_body_size=max_body_bytes,
        # operation ids are the routes' function names (list_runs, create_cron, ...): what
        # generated clients call their methods
        generate_unique_id_function=_operation_id,
        title="Ratchet",
        summary="A durable task queue and workflow engine.",
        version=backend.version,
        openapi_tags=[
            {"name": "Workflow Runs"},
            {"name": "Tasks"},
            {"name": "Events"},
            {"name": "Filters"},
            {"name": "Crons"},
            {"name": "Scheduled Runs"},
            {"name": "Workflows"},
            {"name": "Workers"},
            {"name": "Metrics"},
            {"name": "Rate Limits"},
            {"name": "Webhooks"},
            {"name": "Tokens"},
            {"name": "Tenants"},
            {"name": "Server"},
        ],
    )
    app.state.backend = backend
    install_error_handlers(app)
    app.include_router(_meta.router)
    for module in (
        _runs,
        _tasks,
        _events,
        _filters,
        _crons,
        _schedules,
        _workflows,
        _workers,
        _metrics,
        _rate_limits,
        _webhooks,
        _tokens,
        _tenants,
        _limits,
    ):
        app.include_router(module.router, responses=_REFUSALS)
    # a webhook's requests carry no token: its own verification authenticates them
    app.include_router(webhook_router(lambda: backend.webhooks, backend.push_events))
    return app
