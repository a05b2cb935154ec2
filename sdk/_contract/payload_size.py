"""The size of a payload as msgpack, measured without encoding it.

The engine refuses payloads over its limit, counted in bytes of msgpack (what crosses
the wire). Encoding a payload only to measure it would copy it once more, and payloads
may be tens of megabytes; the walk here counts the same bytes with no copy of a plain
(ASCII) string at all, in the one pass that also bounds the payload's depth. Values of
types other than the plain JSON ones are measured by msgpack itself, so the count is
exact and what msgpack cannot encode fails the same way.
"""

from __future__ import annotations

from typing import Any

import msgpack

__all__ = ["PayloadTooDeep", "packed_size"]

_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1


class PayloadTooDeep(ValueError):
    """The payload nests lists or mappings deeper than allowed."""


def _int_size(n: int) -> int:
    if -32 <= n <= 127:
        return 1
    if n < 0:
        return 2 if n >= -(2**7) else 3 if n >= -(2**15) else 5 if n >= -(2**31) else 9
    return 2 if n < 2**8 else 3 if n < 2**16 else 5 if n < 2**32 else 9


def _str_header(n: int) -> int:
    return 1 if n < 32 else 2 if n < 2**8 else 3 if n < 2**16 else 5


def _bin_header(n: int) -> int:
    return 2 if n < 2**8 else 3 if n < 2**16 else 5


def _container_header(n: int) -> int:
    return 1 if n < 16 else 3 if n < 2**16 else 5


def packed_size(value: Any, *, max_depth: int) -> int:
    """``len(msgpack.packb(value, use_bin_type=True))``, without building the bytes.

    Raises:
        PayloadTooDeep: lists or mappings nest more than ``max_depth`` levels.
        TypeError, ValueError, OverflowError: msgpack could not encode ``value``.
    """
    total = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        kind = type(item)
        if kind is str:
            # An ASCII str's length is its UTF-8 length, and CPython knows whether a str is
            # ASCII without looking at it: no copy for the big strings payloads are made of.
            n = len(item) if item.isascii() else len(item.encode("utf-8"))
            total += _str_header(n) + n
        elif kind is int:
            if not _INT_MIN <= item <= _INT_MAX:
                raise OverflowError(f"integer {item} is out of msgpack's range")
            total += _int_size(item)
        elif kind is float:
            total += 9
        elif item is None or kind is bool:
            total += 1
        elif kind is dict or kind is list or kind is tuple:
            if depth >= max_depth:
                raise PayloadTooDeep(f"nests lists or objects more than {max_depth} levels deep")
            total += _container_header(len(item))
            if kind is dict:
                for k, v in item.items():
                    stack.append((k, depth + 1))
                    stack.append((v, depth + 1))
            else:
                stack.extend((v, depth + 1) for v in item)
        elif kind is bytes or kind is bytearray:
            total += _bin_header(len(item)) + len(item)
        else:
            total += len(msgpack.packb(item, use_bin_type=True))
    return total
