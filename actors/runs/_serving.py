"""Why a queued task is not starting: no live worker serves it.

The engine knows which workflow versions and tasks each live worker registered (the
dispatcher's sessions). A queued task of a run is served when some live worker that is
not draining registered its task: workers take a task by workflow and task name, of any
version, so a run started on one version finishes on workers of the next when they
share the task. A queued task nobody serves would otherwise look like any other queued
task until its schedule timeout cancels it; run details carry this reason instead, and
it is gone as soon as a worker that serves the task connects. A client that registered a
workflow's definition (to trigger it before any worker started) serves nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["unserved_reason"]


def unserved_reason(workflow: str, version: int, task: str, live_versions: Sequence[int]) -> str:
    """The reason a queued task of a run of ``workflow`` (at ``version``) waits, when no live
    worker serves it; ``live_versions`` are the versions of it live workers registered."""
    text = f"no live worker serves task {task!r} of workflow {workflow!r} (version {version})"
    if not live_versions:
        return f"{text}: no worker running workflow {workflow!r} is connected yet; start one"
    plural = "s" if len(live_versions) > 1 else ""
    versions = ", ".join(str(v) for v in live_versions)
    return f"{text}; live workers run version{plural} {versions} of it: start one with task {task!r}"
