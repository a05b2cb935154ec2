"""A deleted static rate limit: forgotten by the limiter, its parked tasks refused, a new put fresh."""

from __future__ import annotations

from typing import Any

from ratchet.actors.scheduling._admission import FlowNeeds
from ratchet.actors.scheduling._machine import FlowScheduler
from ratchet.actors.scheduling._queues import QueuedTask
from ratchet.actors.scheduling._rate_limits import Granted, RateLimiter, RateNeed, Refused


def _task(key: Any, rates: tuple[RateNeed, ...]) -> QueuedTask:
    return QueuedTask(key, "a", flow=FlowNeeds(f"run-{key}", f"task-{key}", rates=rates))


def test_a_deleted_key_is_refused_like_one_never_declared_and_put_again_starts_afresh() -> None:
    limiter = RateLimiter()
    limiter.put("k", 1, 60.0)
    assert isinstance(limiter.try_acquire([RateNeed("k", 1)], 0.0), Granted)
    assert limiter.delete("k") is True
    assert limiter.delete("k") is False
    assert limiter.declared("k") is None
    refusal = limiter.check([RateNeed("k", 1)])
    assert isinstance(refusal, Refused) and "ratchet.rate_limits.put('k'" in refusal.message
    limiter.put("k", 1, 60.0)
    assert isinstance(limiter.try_acquire([RateNeed("k", 1)], 1.0), Granted)  # the old log is gone


def test_deleting_a_key_refuses_the_tasks_parked_on_it_and_leaves_others_alone() -> None:
    scheduler = FlowScheduler()
    scheduler.put_rate_limit("api", 1, 3600.0)
    scheduler.put_rate_limit("other", 1, 3600.0)
    scheduler.add_worker("w", ["a"], 10)
    started = scheduler.enqueue([_task(i, (RateNeed("api", 1),)) for i in range(3)]).assignments
    assert [a.task.key for a in started] == [0]
    kept = scheduler.enqueue([_task(f"o{i}", (RateNeed("other", 1),)) for i in range(2)])
    assert [a.task.key for a in kept.assignments] == ["o0"]
    effects = scheduler.delete_rate_limit("api")
    assert effects.assignments == []
    assert sorted(key for key, _ in effects.refuse) == [1, 2]
    assert all("'api' was deleted" in message for _, message in effects.refuse)
    assert [a.task.key for a in scheduler.put_rate_limit("other", 2, 3600.0).assignments] == ["o1"]
    assert scheduler.delete_rate_limit("never").refuse == []
    assert scheduler.core.depth() == 0  # the refused attempts left the queue
