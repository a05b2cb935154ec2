"""A client whose engine cannot be reached says so, by name, after ``reconnect_timeout``.

Nothing listens at the address these clients dial. Every public call that needs the
engine must fail with :class:`ratchet.EngineUnreachableError` naming the address and
how long it tried, within a bounded time, never with a bare ``trio.TooSlowError``.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ratchet import Context, EngineUnreachableError, Ratchet, WorkflowRunRef

RECONNECT = 0.5
# Well under the transport's own 5 s wait for a peer, so no attempt may wait that out.
WITHIN = 4.0


def free_address() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


@pytest.fixture
def lost() -> Iterator[tuple[Ratchet, Any, str]]:
    """A client of an engine that is not there, with a task declared on it."""
    address = free_address()
    r = Ratchet(engine=address, reconnect_timeout=RECONNECT)

    @r.task(input_validator=dict)
    async def noop(input: dict, ctx: Context) -> int:
        return 1

    try:
        yield r, noop, address
    finally:
        r.close()


CALLS: dict[str, Callable[[Ratchet, Any], Any]] = {
    "runs.get": lambda r, task: r.runs.get("run-1"),
    "runs.list": lambda r, task: r.runs.list(),
    "runs.cancel": lambda r, task: r.runs.cancel("run-1"),
    "ref.result": lambda r, task: WorkflowRunRef(r, "run-1").result(),
    "run": lambda r, task: task.run({}),
    "run_no_wait": lambda r, task: task.run_no_wait({}),
    "event.push": lambda r, task: r.event.push("k", {}),
}

AIO_CALLS: dict[str, Callable[[Ratchet, Any], Any]] = {
    "runs.aio_get": lambda r, task: r.runs.aio_get("run-1"),
    "ref.aio_result": lambda r, task: WorkflowRunRef(r, "run-1").aio_result(),
    "aio_run": lambda r, task: task.aio_run({}),
}


def _check(exc: EngineUnreachableError, address: str, started: float) -> None:
    assert time.monotonic() - started < WITHIN
    text = str(exc)
    assert address in text
    assert f"{RECONNECT:g}s" in text
    assert "RATCHET_ENGINE" in text  # what to check


@pytest.mark.parametrize("call", CALLS)
def test_call_to_missing_engine_raises_engine_unreachable(lost: Any, call: str) -> None:
    r, task, address = lost
    started = time.monotonic()
    with pytest.raises(EngineUnreachableError) as caught:
        CALLS[call](r, task)
    _check(caught.value, address, started)


@pytest.mark.parametrize("call", AIO_CALLS)
async def test_aio_call_to_missing_engine_raises_engine_unreachable(lost: Any, call: str) -> None:
    r, task, address = lost
    started = time.monotonic()
    with pytest.raises(EngineUnreachableError) as caught:
        await AIO_CALLS[call](r, task)
    _check(caught.value, address, started)


def test_engine_unreachable_error_is_public_and_explains() -> None:
    exc = EngineUnreachableError("tcp://127.0.0.1:1", 2.0, "get_run")
    assert isinstance(exc, ConnectionError)
    assert str(exc).startswith("could not reach the Ratchet engine at tcp://127.0.0.1:1")
