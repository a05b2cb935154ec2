"""The HTTP API: REST routes with OpenAPI, served by hypercorn on Trio inside the engine."""
