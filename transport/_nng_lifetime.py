"""nng's lifetime in a Python process: torn down at exit only once no socket is open.

pynng registers ``nng_fini`` as an ``atexit`` handler when it is imported. nng_fini
destroys nng's global locks, so a socket or context that another thread is still using
at that moment (a client's portal thread, which is a daemon thread, still running when
the main thread exits) aborts the whole process with ``panic: pthread_mutex_lock:
Invalid argument`` from ``nng_ctx_close``.

This module takes that handler over. Every socket the nng backend opens is counted
(:func:`socket_opened` / :func:`socket_closed`, called by
:class:`~ratchet.transport._nng_wire.ContextPool`), and :func:`release_nng` runs nng_fini
only when none is open. It runs at exit in place of pynng's handler, and again from the
client's exit handler once that has stopped its connections (whichever of the two runs
last finds the sockets closed). A process that exits with a socket still open, because
some thread would not stop, skips nng_fini: the operating system reclaims nng's memory
and threads anyway, while tearing nng down under that thread would crash it.
"""

from __future__ import annotations

import atexit
import threading

import pynng
import pynng.nng

__all__ = ["open_sockets", "release_nng", "socket_closed", "socket_opened"]

_lock = threading.Lock()
_open = 0
_released = False


def socket_opened() -> None:
    """Count a socket the backend opened."""
    global _open, _released
    with _lock:
        _open += 1
        _released = False  # nng initialises itself again for a socket opened after nng_fini


def socket_closed() -> None:
    """Count a socket the backend closed."""
    global _open
    with _lock:
        _open -= 1


def open_sockets() -> int:
    """Sockets the backend has open now."""
    return _open


def release_nng() -> bool:
    """Run nng_fini if no socket of ours is open (at most once per use); whether it ran."""
    global _released
    with _lock:
        if _open or _released:
            return False
        _released = True
        pynng.lib.nng_fini()
        return True


atexit.unregister(pynng.nng._pynng_atexit)
atexit.register(release_nng)
