"""A tenant's limiter: refusals name the limit and take nothing; limits are checked and kept."""

from __future__ import annotations

import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

import ratchet
from ratchet._contract.protocol import RequestError
from ratchet.actors.limits import (
    DEFAULT_LIMITS,
    Limit,
    TenantLimiter,
    TenantLimits,
    limits_from_settings,
    updated_limits,
)


def _limiter(**limits: object) -> TenantLimiter:
    return TenantLimiter("acme", updated_limits(DEFAULT_LIMITS, limits), 0.0)


def test_runs_over_the_rate_are_refused_whole_with_the_limit_named() -> None:
    limiter = _limiter(runs_per_second=2.0, runs_burst=3)
    limiter.admit_runs(3, 0.0, queued=0)
    with pytest.raises(ratchet.TenantLimitError) as caught:
        limiter.admit_runs(2, 0.0, queued=0)
    err = caught.value
    assert (err.limit, err.value, err.retry_after) == ("runs_per_second", 2.0, pytest.approx(1.0))
    assert "'acme'" in str(err) and "2 runs a second (burst 3)" in str(err)
    limiter.admit_runs(2, 1.0, queued=0)  # exactly when retry_after said
    assert limiter.counters.runs == 5 and limiter.counters.refused == {"runs_per_second": 2}


def test_a_batch_bigger_than_the_burst_is_told_to_split() -> None:
    limiter = _limiter(runs_burst=10)
    with pytest.raises(ratchet.TenantLimitError, match="send at most 10 at once") as caught:
        limiter.admit_runs(11, 0.0, queued=0)
    assert caught.value.retry_after is None
    limiter.admit_runs(10, 0.0, queued=0)  # the refusal took nothing


def test_queued_tasks_over_the_limit_refuse_runs_before_any_token_is_taken() -> None:
    limiter = _limiter(max_queued_tasks=5, runs_burst=3, runs_per_second=0.001)
    with pytest.raises(ratchet.TenantLimitError, match="5 queued tasks") as caught:
        limiter.admit_runs(2, 0.0, queued=4)
    assert (caught.value.limit, caught.value.value, caught.value.retry_after) == ("max_queued_tasks", 5, None)
    limiter.admit_runs(3, 0.0, queued=2)  # the whole burst is still there


def test_workers_events_and_webhook_calls_have_their_own_limits() -> None:
    limiter = _limiter(max_workers=1, events_burst=1, events_per_second=0.001, webhook_calls_burst=1)
    limiter.admit_worker(0)
    with pytest.raises(ratchet.TenantLimitError, match="limit of 1 workers") as caught:
        limiter.admit_worker(1)
    assert caught.value.limit == Limit.MAX_WORKERS
    limiter.admit_events(1, 0.0)
    with pytest.raises(ratchet.TenantLimitError, match="events_per_second"):
        limiter.admit_events(1, 0.0)
    limiter.admit_webhook_call(0.0)
    with pytest.raises(ratchet.TenantLimitError, match="webhook_calls_per_second"):
        limiter.admit_webhook_call(0.0)
    limiter.admit_runs(1, 0.0, queued=0)  # runs are not held back by the others
    usage = limiter.usage(0.0, queued=3, workers=1).as_dict()
    assert usage["refused"] == {"max_workers": 1, "events_per_second": 1, "webhook_calls_per_second": 1}
    assert (usage["queued_tasks"], usage["workers"], usage["runs"], usage["events"]) == (3, 1, 1, 1)


def test_new_limits_apply_at_once_and_keep_what_the_bucket_held() -> None:
    limiter = _limiter(runs_burst=10, runs_per_second=0.001)
    limiter.admit_runs(8, 0.0, queued=0)
    limiter.set_limits(updated_limits(limiter.limits, {"runs_burst": 100}), 0.0)
    with pytest.raises(ratchet.TenantLimitError):
        limiter.admit_runs(3, 0.0, queued=0)  # 2 left, not a fresh 100
    assert limiter.payload_cap(64 * 1024 * 1024) == 64 * 1024 * 1024
    limiter.set_limits(updated_limits(limiter.limits, {"max_payload_bytes": 2048}), 0.0)
    assert limiter.payload_cap(64 * 1024 * 1024) == 2048 and limiter.payload_cap(1500) == 1500


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ([], "must be a map"),
        ({"runs_per_second": 0}, "runs_per_second"),
        ({"runs_per_second": "9"}, "runs_per_second"),
        ({"runs_burst": True}, "runs_burst"),
        ({"runs_burst": 2.5}, "runs_burst"),
        ({"max_workers": -1}, "max_workers"),
        ({"max_payload_bytes": 1}, "max_payload_bytes"),
        ({"max_payload_bytes": 2**40}, "max_payload_bytes"),
        ({"nonsense": 1, "other": 2}, "'nonsense', 'other'"),
        ({1: 2}, "'1'"),
    ],
)
def test_a_bad_change_of_limits_is_refused_by_name(change: object, needle: str) -> None:
    with pytest.raises(RequestError, match=needle):
        updated_limits(DEFAULT_LIMITS, change)


def test_stored_settings_read_back_old_and_new_names_alike() -> None:
    assert limits_from_settings(None) == DEFAULT_LIMITS
    older = limits_from_settings({"max_workers": 3})  # a row from before other limits existed
    assert older.max_workers == 3 and older.runs_burst == DEFAULT_LIMITS.runs_burst
    assert limits_from_settings({"max_workers": 3, "from_a_newer_engine": 1}) == older
    with pytest.raises(ValueError, match="max_workers"):
        limits_from_settings({"max_workers": "many"})
    with pytest.raises(ValueError, match="JSON object"):
        limits_from_settings([1])


@given(
    st.fixed_dictionaries(
        {},
        optional={
            "runs_per_second": st.floats(min_value=0.001, max_value=1e6),
            "runs_burst": st.integers(min_value=1, max_value=10**7),
            "max_queued_tasks": st.integers(min_value=0, max_value=10**9),
            "max_workers": st.integers(min_value=0, max_value=10**9),
            "max_payload_bytes": st.none() | st.integers(min_value=1024, max_value=256 * 1024 * 1024),
        },
    )
)
def test_settings_round_trip_and_a_change_touches_only_what_it_names(change: dict[str, object]) -> None:
    limits = updated_limits(DEFAULT_LIMITS, change)
    assert limits_from_settings(limits.settings()) == limits
    for name in TenantLimits.model_fields:
        expected = change[name] if name in change else getattr(DEFAULT_LIMITS, name)
        assert getattr(limits, name) == expected


@given(
    st.sampled_from(list(Limit)),
    st.none() | st.integers(min_value=0, max_value=10**9),
    st.none() | st.floats(min_value=0, max_value=1e6),
)
def test_a_limit_error_reads_back_from_its_message(
    limit: Limit, value: int | None, retry: float | None
) -> None:
    err = ratchet.TenantLimitError("tenant 'acme' is over a limit", str(limit), value, retry)
    back = ratchet.TenantLimitError.from_message(str(err))
    assert (back.limit, back.value) == (str(limit), value)
    assert back.retry_after == retry
    assert str(back) == str(err)
    copy = pickle.loads(pickle.dumps(err))
    assert (copy.limit, copy.value, copy.retry_after, str(copy)) == (
        err.limit,
        err.value,
        err.retry_after,
        str(err),
    )
    plain = ratchet.TenantLimitError.from_message("no tail at all")
    assert (plain.limit, plain.value, plain.retry_after) == ("", None, None)
