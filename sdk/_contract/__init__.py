"""The contract: the vocabulary the engine and the SDK both speak.

Workflow specs (``spec``), flow-control values (``flow``), durations, CEL, cron,
conditions, statuses (``status``), the gateway's calls, limits and error codes
(``calls``), request models (``protocol``), idempotency keys (``keys``), payload sizes
and the wire-value rules live here, in one leaf package that
imports nothing of Ratchet but the leaf :mod:`ratchet._errors`. The engine
(:mod:`ratchet.actors`) imports this package and nothing else of the SDK; a process that
only declares workflows and triggers runs imports this package and never the engine.
Like :mod:`trio._core`, it is private: the public names are re-exported by :mod:`ratchet`.
"""
