"""Durable tasks through the client in embedded mode: started by an event, waiting for another."""

from __future__ import annotations

from e2e_helpers import eventually, start

from ratchet import DurableContext


def test_an_event_started_durable_task_is_evicted_until_its_matching_event(new_client):
    r = new_client()

    @r.durable_task(on_events=["order:placed"], input_validator=dict, eviction_delay=0.05)
    async def fulfil(inp, ctx: DurableContext):
        paid = await ctx.aio_wait_for_event("order:paid", f"input.order == {inp['order']!r}")
        return {"order": inp["order"], "paid": paid["payload"]["amount"]}

    start(r)
    (run_id,) = r.event.push("order:placed", {"order": "o1"}).run_ids
    eventually(lambda: r.runs.get(run_id).tasks[0].status == "EVICTED", "the task to wait without a slot")
    r.event.push("order:paid", {"order": "o2", "amount": 1})
    r.event.push("order:paid", {"order": "o1", "amount": 9})
    details = r.runs._wait(run_id)
    assert details.output == {"fulfil": {"order": "o1", "paid": 9}}
    kinds = [e.kind for e in details.tasks[0].events]
    assert kinds[:4] == ["QUEUED", "ASSIGNED", "EVICTED", "RESUMED"] and kinds[-1] == "COMPLETED"


def test_a_durable_task_with_a_long_eviction_delay_makes_durable_calls(new_client):
    r = new_client()

    # ten minutes: a wait shorter than that keeps the slot instead of being evicted
    @r.durable_task(input_validator=dict, eviction_delay=600, execution_timeout=900)
    async def patient(inp, ctx: DurableContext):
        await ctx.aio_now()
        await ctx.aio_sleep_for(0.05)
        return "woke"

    start(r)
    ref = patient.run_no_wait({})
    assert ref.result() == "woke"
    kinds = [e.kind for e in r.runs.get(ref.workflow_run_id).tasks[0].events]
    assert "EVICTED" not in kinds  # the short sleep held the slot
