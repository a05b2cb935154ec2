"""The same seed replays the same actor system, message for message.

A supervisor tree of workers that tick on timers, pass work around, crash at random
and get restarted (one_for_all and rest_for_one subtrees, an escalation-prone
one_for_one subtree) runs twice under ``MockClock(autojump_threshold=0)`` with Trio's
scheduler seeded. The digest of the full trace must match for the same seed and differ
across seeds. This test guards the simulation's foundation and must keep passing for the
life of the project.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import trio

from ratchet.runtime import (
    Actor,
    ActorDeadError,
    ActorError,
    ChildSpec,
    FixedEpochClock,
    Restart,
    Strategy,
    SupervisorEscalation,
    SupervisorSpec,
    Trace,
    open_runtime,
    run_deterministic,
)

PEERS = ("w1", "w2", "w3", "r1", "r2", "r3")


class Worker(Actor):
    def __init__(self) -> None:
        self.ticks = 0
        self.received = 0

    async def on_start(self) -> None:
        self.context.send_after(self.context.random.uniform(0.05, 0.5), "tick")

    async def tick(self) -> None:
        rng = self.context.random
        self.ticks += 1
        if rng.random() < 0.08:
            raise RuntimeError(f"{self.context.name} crashed on tick {self.ticks}")
        peer = rng.choice(PEERS)
        try:
            self.context.system.lookup(peer).work.tell(self.ticks)
        except (LookupError, ActorDeadError):
            pass
        self.context.send_after(rng.uniform(0.05, 0.5), "tick")

    async def work(self, n: int) -> int:
        await self.context.clock.sleep(self.context.random.uniform(0.0, 0.02))
        self.received += n
        return self.received

    def total(self) -> int:
        if self.context.random.random() < 0.1:
            raise ValueError("asked at a bad moment")
        return self.received


def _tree() -> list[ChildSpec]:
    def workers(prefix: str) -> list[ChildSpec]:
        return [ChildSpec(Worker, name=f"{prefix}{i}", shutdown=0.1) for i in (1, 2, 3)]

    return [
        ChildSpec(
            SupervisorSpec(Strategy.ONE_FOR_ALL, max_restarts=50, within=5.0, children=workers("w")),
            name="all",
        ),
        ChildSpec(
            SupervisorSpec(Strategy.REST_FOR_ONE, max_restarts=50, within=5.0, children=workers("r")),
            name="rest",
        ),
        ChildSpec(
            SupervisorSpec(
                Strategy.ONE_FOR_ONE,
                max_restarts=1,
                within=1.0,
                children=[ChildSpec(Worker, name="fragile", restart=Restart.TRANSIENT)],
            ),
            name="fragile-sup",
            restart=Restart.PERMANENT,
        ),
    ]


async def _scenario(seed: int, trace: Trace) -> None:
    async with open_runtime(
        seed=seed, clock=FixedEpochClock(), trace=trace, max_restarts=1000, within=1.0
    ) as system:
        for spec in _tree():
            await system.start_child(spec)
        rng = system.runtime.random.fork("client")
        for _ in range(120):
            await system.runtime.clock.sleep(rng.uniform(0.01, 0.1))
            name = rng.choice(PEERS)
            try:
                total = await system.lookup(name).total.options(timeout=0.05).ask()
                trace.record(trio.current_time(), "client", name, f"total={total}")
            except (ActorError, ActorDeadError, LookupError, TimeoutError) as exc:
                trace.record(trio.current_time(), "client", name, type(exc).__name__)


def run_scenario(seed: int) -> Trace:
    trace = Trace()
    try:
        run_deterministic(_scenario, seed, trace, seed=seed)
    except SupervisorEscalation as exc:
        trace.record(-1.0, "escalated", exc.supervisor, exc.child)
    return trace


def test_same_seed_gives_identical_trace_digest() -> None:
    first = run_scenario(1234)
    second = run_scenario(1234)
    assert first.count > 500, "the scenario must exercise the runtime"
    kinds = {e.kind for e in first.events}
    assert {"crash", "restart", "ask", "tell", "handle", "stopping"} <= kinds
    assert first.render() == second.render()
    assert first.digest() == second.digest()


def test_different_seeds_give_different_traces() -> None:
    digests = {run_scenario(seed).digest() for seed in (1, 2, 3)}
    assert len(digests) == 3


def test_digest_is_stable_across_processes_with_different_hash_seeds() -> None:
    here = run_scenario(77).digest()
    code = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        from test_determinism import run_scenario
        print(run_scenario(77).digest())
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "12345"},
    )
    assert out.stdout.strip() == here
