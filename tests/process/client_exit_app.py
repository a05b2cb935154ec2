"""A short client process that starts a run, reads it, and exits while the run is pending.

``python client_exit_app.py MODE`` with ``RATCHET_ENGINE`` set (``embedded`` needs no
engine: it runs one in-process on ``CLIENT_DB``). It prints ``status <STATUS>`` once it
has read the run, then exits the way MODE says, never calling ``close()`` unless MODE
ends in ``-close``:

- ``main``: from the main thread;
- ``thread``: from a (non-daemon) thread, the main thread having returned already;
- ``daemon``: from a daemon thread that is still waiting for the run's result at exit;
- ``atexit``: from an ``atexit`` handler, the first use of the client;
- ``asyncio``: with the ``aio_`` forms inside ``asyncio.run``;
- ``embedded``: on an embedded engine whose worker is running the task at exit;
- ``main-close``: from the main thread, closing the client first.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import sys
import threading

from apps import make_client

MODES = ("main", "thread", "daemon", "atexit", "asyncio", "embedded", "main-close")


def start_and_read(r, slow) -> str:
    ref = slow.run_no_wait({"seconds": 30})
    status = r.runs.get(ref.workflow_run_id).status
    print(f"status {status}", flush=True)
    return ref


def main(mode: str) -> None:
    r, workflows = make_client()
    slow = workflows["slow"]
    if mode in ("main", "main-close"):
        start_and_read(r, slow)
        if mode == "main-close":
            r.close()
    elif mode == "thread":
        threading.Thread(target=start_and_read, args=(r, slow)).start()
    elif mode == "daemon":
        read = threading.Event()

        def wait_for_result() -> None:
            ref = start_and_read(r, slow)
            read.set()
            ref.result()  # still waiting when the process exits

        threading.Thread(target=wait_for_result, daemon=True).start()
        if not read.wait(60):
            sys.exit("the daemon thread never read its run")
    elif mode == "atexit":
        atexit.register(start_and_read, r, slow)
    elif mode == "asyncio":

        async def aio() -> None:
            ref = await slow.aio_run_no_wait({"seconds": 30})
            print(f"status {(await r.runs.aio_get(ref.workflow_run_id)).status}", flush=True)

        asyncio.run(aio())
    elif mode == "embedded":
        r.embedded(f"sqlite:///{os.environ['CLIENT_DB']}", workers=[r.worker("w", slots=1)])
        start_and_read(r, slow)
    else:
        sys.exit(f"unknown mode {mode!r}; one of {MODES}")


if __name__ == "__main__":
    main(sys.argv[1])
