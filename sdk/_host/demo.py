"""``ratchet demo``: a supervised actor pipeline that survives crashes.

Three stages (fetch → parse → save) run as actors under a ``rest_for_one`` supervisor:
when the parser crashes, it and the saver after it restart, while the fetcher keeps its
state. Every document still gets through, because the pipeline retries a stage whose
actor died mid-call. The demo prints each document's path through the stages and the
statistics of every actor at the end.
"""

from __future__ import annotations

import trio

from ratchet.runtime import (
    Actor,
    ActorDeadError,
    ActorError,
    ChildSpec,
    Strategy,
    open_runtime,
)


class Fetcher(Actor):
    def __init__(self) -> None:
        self.fetched = 0

    async def fetch(self, url: str) -> str:
        await self.context.clock.sleep(0.001)
        self.fetched += 1
        return f"<html><title>{url}</title><body>{'word ' * (len(url) % 7 + 3)}</body></html>"


class Parser(Actor):
    def __init__(self) -> None:
        self.parsed = 0

    async def parse(self, html: str) -> dict[str, object]:
        self.parsed += 1
        title = html.split("<title>")[1].split("</title>")[0]
        return {"title": title, "words": html.count("word")}

    def crash(self, reason: str) -> None:
        raise RuntimeError(reason)


class Saver(Actor):
    def __init__(self) -> None:
        self.saved: list[str] = []

    async def save(self, doc: dict[str, object]) -> str:
        doc_id = f"doc-{self.context.random.token_hex(4)}"
        self.saved.append(doc_id)
        return doc_id


async def _call(system: object, name: str, method: str, *args: object) -> object:
    """Ask a stage, retrying while its actor is being restarted."""
    for _attempt in range(20):
        try:
            # (ignored below: lookup exists on the running system, not on its declared type)
            ref = system.lookup(name)  # type: ignore[attr-defined]
            return await getattr(ref, method).options(timeout=2.0).ask(*args)
        except ActorDeadError:
            await trio.sleep(0.005)
    raise RuntimeError(f"stage {name!r} did not come back")


async def _main(seed: int | None) -> None:
    async with open_runtime(seed=seed) as system:
        sup = await system.spawn_supervisor(
            "pipeline",
            strategy=Strategy.REST_FOR_ONE,
            max_restarts=5,
            within=10.0,
            children=[
                ChildSpec(Fetcher, name="fetch"),
                ChildSpec(Parser, name="parse"),
                ChildSpec(Saver, name="save"),
            ],
        )
        print(f"runtime seed {system.runtime.random.seed}; supervisor {sup.name!r} (rest_for_one)")
        urls = [f"https://example.org/{page}" for page in ("intro", "guide", "api", "faq", "blog")]
        for i, url in enumerate(urls):
            if i == 2:
                print("  ! telling the parser to crash: it and the saver restart, the fetcher does not")
                system.lookup("parse").crash.tell("injected failure")
            html = await _call(system, "fetch", "fetch", url)
            doc = await _call(system, "parse", "parse", html)
            doc_id = await _call(system, "save", "save", doc)
            print(f"  {url:32} → parsed {doc} → saved as {doc_id}")
        try:
            await system.lookup("parse").parse.ask("not html")
        except ActorError as exc:
            print(
                f"  a bad input reaches the caller, the actor lives on: {exc.error_type}: {exc.error_message}"
            )
        print("statistics:")
        for name in ("fetch", "parse", "save"):
            print(f"  {system.lookup(name).statistics()}")
        print(f"  {sup.statistics()}")


def run_demo(seed: int | None = None) -> None:
    """Run the demo on the real clock (it takes well under a second)."""
    trio.run(_main, seed)
