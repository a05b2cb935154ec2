"""The randomness seam: one seeded source for everything random, ids included.

Engine and SDK code never call :mod:`random`, :func:`uuid.uuid4` or :func:`os.urandom`
directly. A :class:`RandomSource` built from a seed yields the same numbers and the
same ids in the same order, which is what makes a simulation replayable.
"""

from __future__ import annotations

import os
import random as _random
import uuid
from collections.abc import MutableSequence, Sequence
from typing import TypeVar

__all__ = ["RandomSource", "fresh_seed"]

T = TypeVar("T")


def fresh_seed() -> int:
    """A seed from the operating system, for production runs."""
    return int.from_bytes(os.urandom(8), "big")


class RandomSource:
    """Seeded randomness and id generation.

    Args:
        seed: the seed; ``None`` draws one from the operating system. The seed actually
            used is kept in :attr:`seed` so that any run can be reproduced.
    """

    def __init__(self, seed: int | None = None) -> None:
        self.seed: int = fresh_seed() if seed is None else seed
        self._r = _random.Random(self.seed)

    def random(self) -> float:
        """A float in ``[0, 1)``."""
        return self._r.random()

    def uniform(self, a: float, b: float) -> float:
        """A float in ``[a, b]``."""
        return self._r.uniform(a, b)

    def randint(self, a: int, b: int) -> int:
        """An int in ``[a, b]``, both ends included."""
        return self._r.randint(a, b)

    def choice(self, seq: Sequence[T]) -> T:
        """One element of a non-empty sequence."""
        return self._r.choice(seq)

    def shuffle(self, seq: MutableSequence[object]) -> None:
        """Shuffle ``seq`` in place."""
        self._r.shuffle(seq)

    def getrandbits(self, k: int) -> int:
        """An int with ``k`` random bits."""
        return self._r.getrandbits(k)

    def uuid(self) -> uuid.UUID:
        """A version-4 UUID drawn from this source."""
        return uuid.UUID(int=self._r.getrandbits(128), version=4)

    def new_id(self) -> str:
        """A new id as a string (a version-4 UUID)."""
        return str(self.uuid())

    def token_hex(self, nbytes: int = 16) -> str:
        """``nbytes`` random bytes as hex (not for secrets in production: see ``fork``)."""
        return self._r.getrandbits(nbytes * 8).to_bytes(nbytes, "big").hex()

    def fork(self, label: str) -> RandomSource:
        """An independent source derived from this one and ``label``.

        Forking gives each component its own stream, so adding a random draw in one
        component does not shift every other component's numbers.
        """
        derived = _random.Random(f"{self.seed}:{label}").getrandbits(64)
        return RandomSource(derived)
