"""The gateway's trigger and durable request checks, as plain functions: bad input never reaches an actor."""

from __future__ import annotations

import pytest

from ratchet._contract.protocol import RequestError
from ratchet.actors.gateway._durable import MAX_DURABLE_WAIT, check_step
from ratchet.actors.gateway._triggers import (
    MAX_BULK_EVENTS,
    check_cron,
    check_events,
    check_filter,
    check_id,
    check_new_time,
    check_schedule,
    check_schedule_filters,
    check_workflow_name,
)

NOW = 1_700_000_000.0
LIMIT = 1024


def test_events_are_checked_whole_and_returned_as_plain_dicts() -> None:
    (event,) = check_events([{"key": "order:paid", "payload": {"n": 1}}], LIMIT)
    assert event == {
        "key": "order:paid",
        "payload": {"n": 1},
        "additional_metadata": {},
        "scope": None,
        "priority": None,
    }
    with pytest.raises(RequestError, match="expected a list of 1 to 1000 events, got 0"):
        check_events([], LIMIT)
    with pytest.raises(RequestError, match=f"got {MAX_BULK_EVENTS + 1}"):
        check_events([{"key": "k"}] * (MAX_BULK_EVENTS + 1), LIMIT)
    with pytest.raises(RequestError, match="event #2"):
        check_events([{"key": "k"}, {"key": " "}], LIMIT)
    with pytest.raises(RequestError, match="payload of event 'k'"):
        check_events([{"key": "k", "payload": "x" * 2 * LIMIT}], LIMIT)


def test_a_filter_with_bad_cel_names_its_workflow() -> None:
    assert check_filter({"workflow": "w", "expression": "true", "scope": "s"}, LIMIT).scope == "s"
    with pytest.raises(RequestError, match="filter of workflow 'w'"):
        check_filter({"workflow": "w", "expression": "(((", "scope": "s"}, LIMIT)


def test_a_cron_with_a_bad_expression_names_the_cron_and_workflow() -> None:
    assert check_cron({"workflow": "w", "name": "n", "expression": "* * * * *"}, LIMIT).name == "n"
    with pytest.raises(RequestError, match="cron 'n' of workflow 'w'"):
        check_cron({"workflow": "w", "name": "n", "expression": "every tuesday"}, LIMIT)


def test_a_schedule_time_is_at_most_a_day_past_and_a_century_ahead() -> None:
    req, at = check_schedule({"workflow": "w", "trigger_at": NOW + 60}, LIMIT, NOW)
    assert (req.workflow, at) == ("w", NOW + 60)
    with pytest.raises(RequestError, match="more than a day in the past"):
        check_schedule({"workflow": "w", "trigger_at": NOW - 2 * 86400}, LIMIT, NOW)
    with pytest.raises(RequestError, match="more than 100 years away"):
        check_new_time(NOW + 101 * 365 * 86400, NOW)
    with pytest.raises(RequestError, match="trigger_at must be epoch seconds"):
        check_new_time(True, NOW)


def test_ids_names_and_listing_filters_are_checked() -> None:
    assert check_id("c1", "get_cron") == "c1"
    with pytest.raises(RequestError, match="get_cron: '' is not an id"):
        check_id("", "get_cron")
    assert check_workflow_name(None, "list_crons") is None
    with pytest.raises(RequestError, match="list_crons: workflow must be a name"):
        check_workflow_name(3, "list_crons")
    assert check_schedule_filters(None) == {}
    with pytest.raises(RequestError, match="may name a workflow and a status"):
        check_schedule_filters({"owner": "me"})


def test_a_durable_step_is_normalised_or_refused() -> None:
    assert check_step("t", 0, "sleep", "10s", {"seconds": 10}, 1, LIMIT) == ({"seconds": 10.0}, 1.0)
    assert check_step("t", 1, "now", "now", None, 0.0, LIMIT) == (None, 0.0)
    with pytest.raises(RequestError, match="unknown kind 'nap'"):
        check_step("t", 0, "nap", "k", {}, 0.0, LIMIT)
    with pytest.raises(RequestError, match="seq must be a whole number"):
        check_step("t", -1, "now", "now", None, 0.0, LIMIT)
    with pytest.raises(RequestError, match="wait must be 0 to"):
        check_step("t", 0, "now", "now", None, MAX_DURABLE_WAIT + 1, LIMIT)
    with pytest.raises(RequestError, match="a sleep lasts 0 to 366 days"):
        check_step("t", 0, "sleep", "k", {"seconds": -1}, 0.0, LIMIT)
