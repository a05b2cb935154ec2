"""Lists in pages: ``offset``/``limit`` in, ``{rows, pagination}`` out (Hatchet's v1 shape).

Every list route takes a :class:`Window` (the ``offset`` and ``limit`` query parameters)
and answers a :class:`Page` of its rows. A list the gateway answers whole (crons,
filters, schedules, workers) is cut here (:func:`page_of`) and knows its ``total``; a
list the gateway pages itself (runs, workflows) is asked for one row past the window
instead (:func:`page_at`), so it knows whether a next page exists without counting.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel, Field

__all__ = [
    "MAX_LIMIT",
    "MAX_OFFSET",
    "Page",
    "Pagination",
    "Window",
    "WindowDep",
    "page_at",
    "page_of",
    "window",
]

#: The most rows one page holds.
MAX_LIMIT = 1000
#: The furthest a list may be paged into; past it, narrow the list with its filters.
MAX_OFFSET = 9000

Row = TypeVar("Row")


class Pagination(BaseModel):
    """Where a page sits in its list.

    Attributes:
        offset: rows skipped before this page.
        limit: the most rows a page holds.
        total: how many rows the whole list has, when known (the runs list does not count).
        next_offset: the ``offset`` of the next page; None on the last page.
    """

    offset: int = Field(ge=0)
    limit: int = Field(ge=1)
    total: int | None = None
    next_offset: int | None = None


class Page(BaseModel, Generic[Row]):
    """One page of a list."""

    rows: list[Row]
    pagination: Pagination


@dataclass(frozen=True)
class Window:
    """The rows a request asks for: ``limit`` rows after ``offset``."""

    offset: int
    limit: int

    @property
    def end(self) -> int:
        return self.offset + self.limit


def window(
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Rows to skip.")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="The most rows to answer.")] = 50,
) -> Window:
    """The ``offset`` and ``limit`` query parameters (a FastAPI dependency)."""
    return Window(offset, limit)


def page_at(rows: Sequence[Row], at: Window) -> Page[Row]:
    """The page of ``rows``, a list read from ``at.offset`` on with one row past the window.

    For lists the gateway pages itself (runs, workflows): it is asked for
    ``at.limit + 1`` rows from ``at.offset``, so the extra row says a next page exists.
    """
    return Page[Row](
        rows=list(rows[: at.limit]),
        pagination=Pagination(
            offset=at.offset, limit=at.limit, next_offset=at.end if len(rows) > at.limit else None
        ),
    )


def page_of(rows: Sequence[Row], at: Window, *, complete: bool = True) -> Page[Row]:
    """The page of ``rows`` that ``at`` asks for.

    Args:
        rows: the whole list (``complete``), or its first rows up to at least one past
            the window (then ``total`` stays unknown).
        at: the window.
        complete: whether ``rows`` is the whole list.
    """
    more = len(rows) > at.end
    return Page[Row](
        rows=list(rows[at.offset : at.end]),
        pagination=Pagination(
            offset=at.offset,
            limit=at.limit,
            total=len(rows) if complete else None,
            next_offset=at.end if more else None,
        ),
    )


#: A list route's parameter for its :class:`Window`: ``at: WindowDep``.
WindowDep = Annotated[Window, Depends(window)]
