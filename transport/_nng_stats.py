"""nng's counters for one dialer: how its connection attempts went.

nng reports a connection only once it is made (a pipe event); an attempt that fails is
retried silently. Its statistics count the failures by kind (``refused``, ``timeout``,
``auth`` for a TLS handshake that failed, ``other``...), which is how a dialer learns
that it keeps failing, and why. pynng does not wrap nng's statistics API, so this
module reads it through pynng's cffi bindings.
"""

from __future__ import annotations

import pynng

__all__ = ["dialer_counters"]


def dialer_counters(dialer: pynng.Dialer) -> dict[str, int] | None:
    """The numeric statistics of ``dialer`` now, by name (``connect``, ``auth``, ...).

    Returns:
        The counters, or None when nng keeps no statistics for it (a build without them,
        or a dialer already closed).
    """
    lib, ffi = pynng.lib, pynng.ffi
    snapshot = ffi.new("nng_stat **")
    if lib.nng_stats_get(snapshot) != 0:
        return None
    try:
        node = lib.nng_stat_find_dialer(snapshot[0], dialer.dialer)
        if node == ffi.NULL:
            return None
        counters: dict[str, int] = {}
        child = lib.nng_stat_child(node)
        while child != ffi.NULL:
            if lib.nng_stat_type(child) in (lib.NNG_STAT_COUNTER, lib.NNG_STAT_LEVEL):
                counters[ffi.string(lib.nng_stat_name(child)).decode()] = int(lib.nng_stat_value(child))
            child = lib.nng_stat_next(child)
        return counters
    finally:
        lib.nng_stats_free(snapshot[0])
