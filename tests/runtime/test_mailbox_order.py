"""Mailbox ordering: every sender's messages arrive in the order it sent them, exactly once."""

from __future__ import annotations

import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

from ratchet.runtime import Actor, LocalActorRef, open_runtime, run_deterministic


class Recorder(Actor):
    def __init__(self, seen: list[tuple[int, int]]) -> None:
        self.seen = seen

    async def note(self, sender: int, seq: int, pause: int = 0) -> int:
        self.seen.append((sender, seq))
        for _ in range(pause):
            await trio.lowlevel.checkpoint()
        return seq


async def test_one_senders_mixed_tells_and_asks_arrive_in_send_order() -> None:
    seen: list[tuple[int, int]] = []
    async with open_runtime(seed=1) as system:
        ref = await system.spawn(Recorder, seen)
        for seq in range(50):
            if seq % 7 == 3:
                assert await ref.note.ask(0, seq) == seq
            else:
                ref.note.tell(0, seq)
        await ref.note.ask(0, 50)
    assert seen == [(0, seq) for seq in range(51)]


# One sender's plan: for each message, (use ask?, checkpoints before sending, checkpoints
# the actor spends handling it).
message_plans = st.tuples(st.booleans(), st.integers(0, 3), st.integers(0, 2))
sender_plans = st.lists(st.lists(message_plans, max_size=15), min_size=1, max_size=5)


async def send_all(ref: LocalActorRef, sender: int, plan: list[tuple[bool, int, int]]) -> None:
    for seq, (use_ask, yields, pause) in enumerate(plan):
        for _ in range(yields):
            await trio.lowlevel.checkpoint()
        if use_ask:
            assert await ref.note.ask(sender, seq, pause) == seq
        else:
            ref.note.tell(sender, seq, pause)


async def run_senders(plans: list[list[tuple[bool, int, int]]], seen: list[tuple[int, int]]) -> None:
    async with open_runtime(seed=0) as system:
        ref = await system.spawn(Recorder, seen)
        async with trio.open_nursery() as nursery:
            for sender, plan in enumerate(plans):
                nursery.start_soon(send_all, ref, sender, plan)
        await trio.testing.wait_all_tasks_blocked()
        assert ref.statistics().mailbox_depth == 0


@settings(max_examples=100, deadline=None)
@given(plans=sender_plans, seed=st.integers(0, 2**32 - 1))
def test_every_sender_is_observed_in_its_own_order_with_nothing_lost_or_duplicated(
    plans: list[list[tuple[bool, int, int]]], seed: int
) -> None:
    seen: list[tuple[int, int]] = []
    run_deterministic(run_senders, plans, seen, seed=seed)
    assert len(seen) == sum(len(plan) for plan in plans)
    for sender, plan in enumerate(plans):
        assert [seq for who, seq in seen if who == sender] == list(range(len(plan)))
