"""The multi-page document orchestrator: a durable task fanning out one child per page.

Runs entirely in this process on the embedded engine (a SQLite file, no servers):

    python examples/document_orchestrator.py [--db sqlite:///path.db] [--pages-of doc-3]

The orchestrator does not know how many pages a document has until it fetches it, so it
cannot be a fixed DAG. It is a durable task: it spawns one ``parse-page`` child per page
and waits for all of them *without holding a worker slot* (it is evicted while the
children run), then resumes from its log - the fetch is not redone, the children are
not spawned again - and saves the combined result. Each run prints its result, the
orchestrator's timeline (note EVICTED and RESUMED) and the child runs it spawned.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

from pydantic import BaseModel

from ratchet import Context, DurableContext, Ratchet

# -- the outside world: a document store and a database ------------------------------------------------

DOCUMENTS = {
    "doc-1": ["Durable tasks remember what they spawned."],
    "doc-3": ["Page one is short.", "Page two has a few more words.", "Page three ends it."],
}
SAVED: dict[str, list[str]] = {}
FETCHES: dict[str, int] = {}
_lock = threading.Lock()


def fetch_document(document_id: str) -> list[str]:
    """The document's pages (a call to a storage service)."""
    with _lock:
        FETCHES[document_id] = FETCHES.get(document_id, 0) + 1
    return DOCUMENTS[document_id]


# -- the workflows -----------------------------------------------------------------------------------------

ratchet = Ratchet()


class PageInput(BaseModel):
    document_id: str
    number: int
    text: str


class DocumentInput(BaseModel):
    document_id: str
    user_id: str


@ratchet.task(name="parse-page", input_validator=PageInput, retries=2)
def parse_page(input: PageInput, ctx: Context) -> dict:
    time.sleep(0.3)  # a parsing service takes a moment: the orchestrator is evicted meanwhile
    words = [w.strip(".,").lower() for w in input.text.split()]
    return {"page": input.number, "words": len(words), "parsed": " ".join(words)}


@ratchet.durable_task(name="smart-orchestrator", input_validator=DocumentInput, retries=1, eviction_delay=0.1)
async def orchestrate(input: DocumentInput, ctx: DurableContext) -> dict:
    # Step 1: fetch and inspect. Its result reaches the log through the children's inputs,
    # so a replay that fetched a different document would diverge, not corrupt.
    pages = fetch_document(input.document_id)
    # Step 2: one child per page, decided at run time; spawned once, whatever happens next.
    results = await parse_page.aio_run_many(
        [
            parse_page.create_bulk_run_item(PageInput(document_id=input.document_id, number=n, text=text))
            for n, text in enumerate(pages, 1)
        ]
    )
    # Step 3: save the combined result (idempotent: keyed by the document).
    SAVED[input.document_id] = [r["parsed"] for r in results]
    return {"status": "success", "parsed_pages": len(results), "words": sum(r["words"] for r in results)}


# -- running it --------------------------------------------------------------------------------------------


def run_document(document_id: str) -> dict:
    """Orchestrate one document; print its result, timeline and children; return the result."""
    ref = orchestrate.run_no_wait(DocumentInput(document_id=document_id, user_id="user-7"))
    result = ref.result()
    details = ratchet.runs.get(ref.workflow_run_id)
    task = details.tasks[0]
    print(f"\n{document_id}: {result}")
    print("  orchestrator: " + ", ".join(f"{e.kind.lower()}#{e.attempt}" for e in task.events))
    children = ratchet.runs.list(parent_task_id=task.task_id)
    print(f"  children: {len(children)} parse-page runs, " + ", ".join(sorted({c.status for c in children})))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", help="store URL (default: a SQLite file in a temporary directory)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        database = args.db or f"sqlite:///{Path(tmp) / 'ratchet.db'}"
        print(f"embedded engine on {database}")
        with ratchet.embedded(database, workers=[ratchet.worker("documents", slots=4)]):
            for document_id in ("doc-1", "doc-3"):
                run_document(document_id)
        print(f"\nsaved: {sorted(SAVED)}; fetches per document (a replay fetches again): {FETCHES}")


if __name__ == "__main__":
    main()
