"""Workers that come and go while an embedded engine runs, as separate processes would.

:func:`add_worker` starts a real :class:`~ratchet._worker.worker.WorkerActor` in the embedded
engine's process and returns once the engine accepted its registration;
:func:`stop_worker` stops it and has the engine forget it at once (as a worker that
drained and left), so a test never waits out missed heartbeats.
"""

from __future__ import annotations

from collections.abc import Sequence

import trio

from ratchet import Ratchet, Workflow
from ratchet._connection import system_of
from ratchet._worker.worker import WorkerActor, WorkerConfig

__all__ = ["add_worker", "stop_worker"]

REGISTRATION_TIMEOUT = 10.0
"""The longest :func:`add_worker` waits for the engine to accept a worker."""


def add_worker(r: Ratchet, name: str, workflows: Sequence[Workflow], *, slots: int = 4) -> None:
    """Start a worker ``name`` running ``workflows`` in ``r``'s embedded engine."""
    system = system_of(r.connection.gateway)
    assert system is not None, "add_worker needs an embedded engine"

    async def spawn() -> None:
        config = WorkerConfig(name, list(workflows), slots=slots)
        ref = await system.spawn(WorkerActor, config, r.connection.gateway, worker_id=name, name=name)
        with trio.fail_after(REGISTRATION_TIMEOUT):  # a refused registration fails, never hangs
            await ref.wait_registered.ask()

    r.connection.run_in_portal(spawn)


def stop_worker(r: Ratchet, name: str) -> None:
    """Stop a worker started by :func:`add_worker`; the engine forgets it at once."""
    system = system_of(r.connection.gateway)
    assert system is not None, "stop_worker needs an embedded engine"
    r.connection.run_in_portal(system.root.terminate_child, name)
    r.connection.call("deregister_worker", name)
