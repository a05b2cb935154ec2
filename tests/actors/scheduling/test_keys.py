"""The scheduler's keys: attempt keys and flow-control holders, as they come back from messages."""

import pytest

from ratchet.actors.scheduling._admission import as_holder
from ratchet.actors.scheduling._queues import AttemptKey, attempt_key


def test_attempt_key_equals_and_hashes_like_the_plain_pair():
    key = AttemptKey("task-1", 2)
    assert key == ("task-1", 2)
    assert {("task-1", 2): "x"}[key] == "x"


def test_attempt_key_reads_a_pair_sent_as_a_list():
    assert attempt_key(["task-1", 2]) == AttemptKey("task-1", 2)
    assert attempt_key(("task-1", 2)).attempt == 2


@pytest.mark.parametrize("bad", ["task-1", ("task-1",), ("a", 1, 2), None])
def test_attempt_key_rejects_what_is_not_a_pair(bad):
    with pytest.raises(TypeError, match="not a task attempt key"):
        attempt_key(bad)


def test_as_holder_turns_a_sent_list_back_into_the_tuple_groups_hold():
    assert as_holder(["run", "r-1"]) == ("run", "r-1")
    assert isinstance(as_holder(["task", "t-1"]), tuple)
    with pytest.raises(TypeError, match="not a flow-control holder"):
        as_holder("run")
