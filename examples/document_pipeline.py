"""The document pipeline: fetch -> parse -> save -> respond, and its fan-out/fan-in variant.

Runs entirely in this process on the embedded engine (a SQLite file, no servers):

    python examples/document_pipeline.py [--db sqlite:///path.db]

A request to process a document becomes a durable run. The parser is flaky on purpose:
its first attempt at every document fails, and the engine retries it after a backoff.
One document does not exist: its run fails, the steps after the failure are cancelled,
and the workflow's on-failure task records the failure. Each run prints its result and
its tasks' timelines as the engine recorded them.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
from pathlib import Path

from pydantic import BaseModel

from ratchet import Context, FailedTaskRunExceptionGroup, Ratchet, TaskRunDetails

# -- the outside world: a document store, a parser, a database --------------------------------------

DOCUMENTS = {
    "doc-1": {"content": "Durable execution records every step.", "metadata": {"pages": 1}},
    "doc-2": {"content": "A crash costs a retry, never lost work. Steps resume.", "metadata": {"pages": 2}},
}
SAVED: dict[str, dict[str, str]] = {}
_parse_attempts: dict[str, int] = {}
_lock = threading.Lock()


def parser_service(document_id: str, content: str) -> str:
    """A parsing service that fails the first call for each document."""
    with _lock:
        _parse_attempts[document_id] = _parse_attempts.get(document_id, 0) + 1
        first = _parse_attempts[document_id] == 1
    if first:
        raise ConnectionError("parser.api: 503 Service Unavailable")
    return " ".join(word.strip(".,").lower() for word in content.split())


# -- the workflows ------------------------------------------------------------------------------------

ratchet = Ratchet()


class DocumentInput(BaseModel):
    document_id: str
    user_id: str


pipeline = ratchet.workflow("document-pipeline", input_validator=DocumentInput)


@pipeline.task(name="fetch-document", retries=3, execution_timeout="10s")
def fetch_document(input: DocumentInput, ctx: Context) -> dict:
    doc = DOCUMENTS.get(input.document_id)
    if doc is None:
        raise LookupError(f"storage.api: no document {input.document_id!r}")
    return {"content": doc["content"], "metadata": doc["metadata"]}


@pipeline.task(name="parse-document", parents=[fetch_document], retries=2, backoff_factor=0.2,
               execution_timeout="20s")  # fmt: skip
def parse_document(input: DocumentInput, ctx: Context) -> dict:
    doc = ctx.task_output(fetch_document)
    return {"parsed_content": parser_service(input.document_id, doc["content"])}


@pipeline.task(name="save-state", parents=[parse_document], retries=3, execution_timeout="5s")
def save_state(input: DocumentInput, ctx: Context) -> dict:
    parsed = ctx.task_output(parse_document)
    SAVED[input.document_id] = {"user": input.user_id, "content": parsed["parsed_content"]}
    return {"saved": True}


@pipeline.task(name="build-response", parents=[save_state])
async def build_response(input: DocumentInput, ctx: Context) -> dict:
    parsed = ctx.task_output(parse_document)
    return {"status": "success", "parsed_content": parsed["parsed_content"]}


@pipeline.on_failure_task(name="report-failure")
def report_failure(input: DocumentInput, ctx: Context) -> dict:
    return {"failed": [f"{name}: {e.exc_type}: {e.message}" for name, e in ctx.task_run_errors.items()]}


# The fan-out/fan-in variant: parse and save-metadata both wait for fetch, and the
# response waits for both.
fan = ratchet.workflow("document-fan-out", input_validator=DocumentInput)


@fan.task(name="fetch-document", retries=3)
def fan_fetch(input: DocumentInput, ctx: Context) -> dict:
    return fetch_document.fn(input, ctx)


@fan.task(name="parse-document", parents=[fan_fetch], retries=2, backoff_factor=0.2)
def fan_parse(input: DocumentInput, ctx: Context) -> dict:
    doc = ctx.task_output(fan_fetch)
    return {"parsed_content": parser_service("fan:" + input.document_id, doc["content"])}


@fan.task(name="save-metadata", parents=[fan_fetch])
async def fan_save_metadata(input: DocumentInput, ctx: Context) -> dict:
    return {"pages": ctx.task_output(fan_fetch)["metadata"]["pages"]}


@fan.task(name="build-response", parents=[fan_parse, fan_save_metadata])
def fan_respond(input: DocumentInput, ctx: Context) -> dict:
    return {
        "status": "success",
        "pages": ctx.task_output(fan_save_metadata)["pages"],
        "words": len(ctx.task_output(fan_parse)["parsed_content"].split()),
    }


# -- running it ---------------------------------------------------------------------------------------


def print_timeline(run_id: str) -> None:
    details = ratchet.runs.get(run_id)
    print(f"  run {details.run_id}  {details.workflow}  {details.status}")
    start = details.created_at

    def began(task: TaskRunDetails) -> float:
        return min((e.at for e in task.events if e.kind != "CREATED"), default=float("inf"))

    for task in sorted(details.tasks, key=lambda t: (began(t), t.name)):
        steps = ", ".join(
            f"{e.kind.lower()}"
            + (f"#{e.attempt}" if e.attempt > 1 else "")
            + f" +{(e.at - start) * 1000:.0f}ms"
            for e in task.events
        )
        print(f"    {task.name:<16} {task.status:<10} {steps}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", help="store URL (default: a SQLite file in a temporary directory)")
    parser.add_argument(
        "--worker",
        action="store_true",
        help="instead: run a worker of these workflows for a 'ratchet engine' (RATCHET_ENGINE) until Ctrl-C",
    )
    args = parser.parse_args()
    if args.worker:
        ratchet.worker("documents", slots=8).start()
        return
    with tempfile.TemporaryDirectory() as tmp:
        database = args.db or f"sqlite:///{Path(tmp) / 'ratchet.db'}"
        print(f"embedded engine on {database}")
        with ratchet.embedded(database, workers=[ratchet.worker("documents", slots=8)]):
            for doc_id in ("doc-1", "doc-2", "doc-404"):
                ref = pipeline.run_no_wait(DocumentInput(document_id=doc_id, user_id="user-7"))
                print(f"\ndocument-pipeline for {doc_id}:")
                try:
                    print("  result:", ref.result()["build-response"])
                except FailedTaskRunExceptionGroup as group:
                    for error in group.exceptions:
                        print(f"  failed: {error.task_name}: {error.exc_type}: {error.message}")
                print_timeline(ref.workflow_run_id)

            print("\ndocument-fan-out for doc-2:")
            ref = fan.run_no_wait(DocumentInput(document_id="doc-2", user_id="user-7"))
            print("  result:", ref.result()["build-response"])
            print_timeline(ref.workflow_run_id)
        print(f"\nsaved: {sorted(SAVED)}")


if __name__ == "__main__":
    main()
