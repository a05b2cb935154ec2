"""Fixtures shared by the runtime tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import trio


def _count_tasks() -> int:
    """Every task alive in this Trio run, found by walking the tree from the root task."""
    count = 0
    stack = [trio.lowlevel.current_root_task()]
    while stack:
        task = stack.pop()
        count += 1
        for nursery in task.child_nurseries:
            stack.extend(nursery.child_tasks)
    return count


@pytest.fixture
def task_count() -> Callable[[], int]:
    """A function returning how many tasks are alive in the current Trio run."""
    return _count_tasks
