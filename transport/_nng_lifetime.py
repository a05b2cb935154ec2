"""nng's lifetime in a Python process: torn down at exit only once no socket is open.

pynng registers ``nng_fini`` as an ``atexit`` handler when it is imported. nng_fini
destroys nng's global locks, so a socket or context that another thread is still using
at that moment (a client's portal thread, which is a daemon thread, still running when
the main thread exits) aborts the whole process with ``panic: pthread_mutex_lock:
Invalid argument`` from ``nng_ctx_close``.

This module takes that handler over. Every socket the nng backend opens is counted
(:func:`socket_opened` / :func:`socket_closed`, called by
:class:`~ratchet.transport._nng_wire.ContextPool`), and :func:`release_nng` runs nng_fini
only when none is open. At exit, our handler calls it in place of pynng's, unless an
owner took the job (:func:`leave_release_to`): the client does, because its own exit
handler first stops its connections (their sockets live on other threads) and must be
the one to release nng after them. A process that exits with a socket still open,
because some thread would not stop, skips nng_fini: the operating system reclaims nng's
memory and threads anyway, while tearing nng down under that thread would crash it.

nng does not start cleanly again after nng_fini (a socket opened then can hang when it
closes), so opening one after the release is refused with an error that says so.
"""

from __future__ import annotations

import atexit
import threading

import pynng
import pynng.nng

__all__ = ["leave_release_to", "open_sockets", "release_nng", "socket_closed", "socket_opened"]

_lock = threading.Lock()
_open = 0
_released = False
_owner: str | None = None


def socket_opened() -> None:
    """Count a socket the backend is about to open.

    Raises:
        RuntimeError: nng was released already (the process is exiting).
    """
    global _open
    with _lock:
        if _released:
            raise RuntimeError(
                "nng was torn down at interpreter exit; no nng socket can be opened after that "
                "(an exit handler that uses Ratchet must be registered after importing ratchet)"
            )
        _open += 1


def socket_closed() -> None:
    """Count a socket the backend closed."""
    global _open
    with _lock:
        _open -= 1


def open_sockets() -> int:
    """Sockets the backend has open now."""
    return _open


def release_nng() -> bool:
    """Run nng_fini if no socket of ours is open (once); whether it ran now."""
    global _released
    with _lock:
        if _open or _released:
            return False
        _released = True
        pynng.lib.nng_fini()
        return True


def leave_release_to(owner: str) -> None:
    """Let ``owner`` call :func:`release_nng` at exit, after stopping what uses nng."""
    global _owner
    _owner = owner


def _release_at_exit() -> None:
    if _owner is None:
        release_nng()


# pynng's own handler (a private name; a pynng without it has nothing to take over).
_pynng_exit_handler = getattr(pynng.nng, "_pynng_atexit", None)
if _pynng_exit_handler is not None:
    atexit.unregister(_pynng_exit_handler)
atexit.register(_release_at_exit)
