"""The HTTP API: REST routes with OpenAPI, served by hypercorn on Trio inside the engine.

One service layer, two doors: the routes ask the same Gateway actor the nng door
serves, with the same requests the SDK sends. :func:`create_app` builds the FastAPI app
from an :class:`ApiBackend` (token checks and each tenant's gateway);
:class:`EngineBackend` is that backend for an engine in this process;
:func:`serve_api` and the :class:`ApiServer` actor serve the app.
"""

from ._app import create_app as create_app
from ._backend import ApiBackend as ApiBackend
from ._engine_backend import EngineBackend as EngineBackend
from ._server import ApiServer as ApiServer
from ._server import serve_api as serve_api

__all__ = ["ApiBackend", "ApiServer", "EngineBackend", "create_app", "serve_api"]
