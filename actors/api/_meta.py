"""The server's own routes: liveness, readiness and version (no token needed).

``/api/live`` answers while the process serves HTTP. ``/api/ready`` answers once the
engine can take requests: the :class:`~._server.ApiServer` starts after the gateway in
the engine's ``rest_for_one`` tree and goes down with it, so a server that answers has
a running engine behind it.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel

from ._access import backend_of

__all__ = ["Health", "Version", "router"]


class Health(BaseModel):
    """The server is up."""

    status: str = "ok"


class Version(BaseModel):
    """The engine's version."""

    version: str


router = APIRouter(tags=["Server"])


@router.get("/api/live", response_model=Health, summary="Liveness")
async def live() -> Health:
    """The process serves HTTP."""
    return Health()


@router.get("/api/ready", response_model=Health, summary="Readiness")
async def ready() -> Health:
    """The engine behind this server takes requests."""
    return Health()


@router.get("/api/v1/version", response_model=Version, summary="Engine version")
async def version(request: Request) -> Version:
    """The engine's version."""
    return Version(version=backend_of(request).version)
