"""The operator views as plain functions: metadata matching, queue names, workers, workflows."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ratchet.actors.gateway._metrics import metrics_view, queue_label, workflow_of_queue
from ratchet.actors.gateway._run_search import metadata_matches
from ratchet.actors.gateway._workers import worker_view
from ratchet.actors.gateway._workflows import workflow_view
from ratchet.actors.runs._coordinator import action_name
from ratchet.actors.store import Worker, Workflow, WorkflowVersion

pairs = st.dictionaries(st.sampled_from("abcd"), st.integers(0, 2), max_size=4)


@given(held=pairs, wanted=pairs)
def test_all_means_every_pair_and_any_means_one(held, wanted) -> None:
    hits = [k in held and held[k] == v for k, v in wanted.items()]
    assert metadata_matches(held, wanted, "all") is all(hits)
    assert metadata_matches(held, wanted, "any") is (any(hits) or not wanted)


def test_metadata_that_is_not_a_mapping_matches_only_an_empty_wish() -> None:
    assert metadata_matches(None, {"a": 1}, "any") is False
    assert metadata_matches(["a"], {}, "all") is True


def test_a_queue_belongs_to_the_longest_workflow_name_it_starts_with() -> None:
    names = sorted(["a", "a:b", "etl"], key=len, reverse=True)
    assert queue_label("t1", action_name("t1", "a:b", "c")) == "a:b:c"
    assert workflow_of_queue("a:b:c", names) == "a:b"
    assert workflow_of_queue("a:x", names) == "a"
    assert workflow_of_queue("ghost:x", names) is None
    assert queue_label("t1", "other/wf:t") == "other/wf:t"  # another tenant's name is left whole


def test_queue_metrics_add_up_per_workflow() -> None:
    queued = {action_name("t", "etl", "x"): 2, action_name("t", "etl", "y"): 1, action_name("t", "m", "z"): 4}
    view = metrics_view("t", queued, ["etl", "m"], {"workers": 0}, None, None, None)
    assert view["queues"] == {"etl:x": 2, "etl:y": 1, "m:z": 4}
    assert view["workflows"] == {"etl": 3, "m": 4} and view["queued"] == 7 and view["tasks"] is None


STORED = Worker("t", "w1", "alpha", 4, 10, {"gpu": 1}, ["t/etl:x"], "STOPPED", 100.0, 150.0)


def test_a_worker_without_a_session_reads_inactive_from_its_row() -> None:
    view = worker_view(None, None, STORED, paused=True, now=500.0)
    assert view is not None
    assert (view["status"], view["paused"], view["slots"], view["slots_used"]) == ("INACTIVE", True, 4, 0)
    assert (view["registered_at"], view["last_heartbeat_at"], view["labels"]) == (100.0, 150.0, {"gpu": 1})
    assert worker_view(None, None, None, paused=False, now=1.0) is None


def test_a_connected_worker_reads_from_its_session_and_slots() -> None:
    session = {"id": "w1", "name": "alpha", "slots": 4, "durable_slots": 10, "last_seen_seconds_ago": 2.5}
    slots = {"used": 3, "free": 1, "durable_used": 1, "durable_free": 9}
    view = worker_view(session, slots, STORED, paused=False, now=500.0)
    assert view is not None
    assert (view["status"], view["slots_used"], view["slots_free"], view["durable_slots_free"]) == (
        "ACTIVE",
        3,
        1,
        9,
    )
    assert view["last_heartbeat_at"] == 497.5
    assert worker_view(session, slots, None, paused=True, now=500.0)["status"] == "PAUSED"  # type: ignore[index]


def test_a_workflow_never_pointed_uses_its_latest_version() -> None:
    wf = Workflow("t", "wf1", "etl", 1.0)
    versions = [WorkflowVersion("t", "wf1", n, f"c{n}", {"tasks": [{"name": "x"}]}, float(n)) for n in (1, 2)]
    view = workflow_view(wf, versions, {}, paused=False)
    assert view["current_version"] == 2
    assert [(v["version"], v["current"]) for v in view["versions"]] == [(1, False), (2, True)]
    assert workflow_view(wf, versions, {"wf1": 1}, paused=True)["current_version"] == 1
