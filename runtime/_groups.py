"""Exception groups from Trio nurseries, reduced to the error a caller expects."""

from __future__ import annotations

import trio

__all__ = ["single_error"]


def single_error(group: BaseExceptionGroup[BaseException]) -> BaseException | None:
    """The one real error in a nursery's ``group`` (cancellations ignored), or None if
    there is none or more than one."""
    rest = group.subgroup(lambda e: not isinstance(e, trio.Cancelled))
    if rest is None:
        return None
    leaves: list[BaseException] = []
    stack: list[BaseException] = [rest]
    while stack:
        exc = stack.pop()
        if isinstance(exc, BaseExceptionGroup):
            stack.extend(reversed(exc.exceptions))
        else:
            leaves.append(exc)
    return leaves[0] if len(leaves) == 1 else None
