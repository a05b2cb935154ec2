"""A FIFO mailbox that an actor's message loop waits on.

A deque with a parking lot: :meth:`Mailbox.put_nowait` never blocks (tells are
fire-and-forget), :meth:`Mailbox.get` waits for the next message. Its depth is the
``mailbox_depth`` in an actor's statistics. The mailbox belongs to the actor's identity,
not to one incarnation, so messages queued while an actor restarts are handled by the
new incarnation.
"""

from __future__ import annotations

from collections import deque
from typing import Generic, TypeVar

import trio

__all__ = ["Mailbox", "MailboxClosed"]

T = TypeVar("T")


class MailboxClosed(Exception):
    """The mailbox was closed: its actor stopped for good."""


class Mailbox(Generic[T]):
    """An unbounded FIFO queue for one consumer."""

    def __init__(self) -> None:
        self._items: deque[T] = deque()
        self._lot = trio.lowlevel.ParkingLot()
        self._closed = False

    def __len__(self) -> int:
        return len(self._items)

    @property
    def closed(self) -> bool:
        return self._closed

    def put_nowait(self, item: T) -> None:
        """Append ``item``; wakes the consumer.

        Raises:
            MailboxClosed: when the mailbox was closed.
        """
        if self._closed:
            raise MailboxClosed
        self._items.append(item)
        self._lot.unpark()

    async def get(self) -> T:
        """The oldest item, waiting for one if the mailbox is empty.

        Raises:
            MailboxClosed: when the mailbox is closed and empty.
        """
        while not self._items:
            if self._closed:
                raise MailboxClosed
            await self._lot.park()
        await trio.lowlevel.checkpoint()
        return self._items.popleft()

    async def wait(self) -> None:
        """Wait until an item arrives, :meth:`wake` is called, or the mailbox closes."""
        if self._items or self._closed:
            await trio.lowlevel.checkpoint()
        else:
            await self._lot.park()

    def popleft(self) -> T:
        """The oldest item, without waiting.

        Raises:
            IndexError: when the mailbox is empty.
        """
        return self._items.popleft()

    def wake(self) -> None:
        """Wake a waiting consumer without an item (it re-checks its stop flag)."""
        self._lot.unpark_all()

    def close(self) -> list[T]:
        """Close the mailbox and return what was still queued."""
        self._closed = True
        left = list(self._items)
        self._items.clear()
        self._lot.unpark_all()
        return left
