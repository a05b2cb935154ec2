"""Workflows of ``api_bench.py``; run as ``python api_apps.py`` to be the worker.

* ``noop``: a task that returns at once, what the trigger and throughput figures run;
* ``report``: the workflow of the seeded history. It is registered (so its runs name a
  real workflow) but no worker serves it, so the seeded runs stay as seeded.

The worker reads ``RATCHET_ENGINE`` and ``RATCHET_TOKEN`` from the environment.
"""

from __future__ import annotations

import os

from ratchet import Context, Ratchet, Workflow


def declare(client: Ratchet) -> dict[str, Workflow]:
    """The benchmark's workflows, declared on ``client``, by name."""

    @client.task(input_validator=dict)
    async def noop(input: dict, ctx: Context) -> int:
        return 1

    @client.task(input_validator=dict)
    async def report(input: dict, ctx: Context) -> dict:
        return {"rows": 0}

    return {"noop": noop, "report": report}


if __name__ == "__main__":
    r = Ratchet()
    workflows = declare(r)
    r.worker(
        "api-bench", slots=int(os.environ.get("WORKER_SLOTS", "200")), workflows=[workflows["noop"]]
    ).start()
