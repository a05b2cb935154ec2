"""A worker reports an execution timeout with a code, not only with a sentence.

The engine decides the TIMED_OUT timeline kind from ``error_code``; the message is for
people. A task's own ``TimeoutError`` carrying the very same sentence gets no code.
"""

from __future__ import annotations

from typing import Any

import trio

from ratchet._contract.codes import EXECUTION_TIMEOUT_MESSAGE, TaskErrorCode
from ratchet._contract.protocol import TaskResultReport
from ratchet._declare.validation import InputValidator
from ratchet._worker.context import AttemptInfo, Context
from ratchet._worker.executor import AttemptControl, TaskOutcome, execute_attempt


class QuietLink:
    """A context's way back to its worker that these attempts never use."""

    def log(self, info: AttemptInfo, line: str, level: str) -> None:
        pass


def control(timeout: float) -> AttemptControl:
    info = AttemptInfo(run_id="run-1", task_run_id="t1", workflow="wf", task="work", attempt=1)
    return AttemptControl(Context(info, QuietLink()), timeout)  # type: ignore[arg-type]  # a stand-in link


async def attempt(fn: Any, timeout: float) -> TaskOutcome:
    return await execute_attempt(fn, {}, InputValidator(dict, "wf"), control(timeout), is_async=True)


async def test_the_watchdog_reports_an_execution_timeout_with_its_code(autojump_clock):
    async def slow(inp: Any, ctx: Context) -> None:
        await trio.sleep(60)

    outcome = await attempt(slow, 2.5)
    assert (outcome.status, outcome.error_type, outcome.retryable) == ("failed", "TimeoutError", True)
    assert outcome.error_code is TaskErrorCode.EXECUTION_TIMEOUT
    assert outcome.error_message == EXECUTION_TIMEOUT_MESSAGE.format(timeout=2.5)


async def test_a_timeout_error_the_task_raises_itself_carries_no_code(autojump_clock):
    async def own_timeout(inp: Any, ctx: Context) -> None:
        raise TimeoutError(EXECUTION_TIMEOUT_MESSAGE.format(timeout=2.5))

    outcome = await attempt(own_timeout, 60)
    assert outcome.status == "failed" and outcome.error_type == "TimeoutError"
    assert outcome.error_code is None


def test_the_report_carries_the_code_across_the_wire():
    report = {"task_id": "t1", "attempt": 1, "status": "failed", "error_code": "ExecutionTimeout"}
    assert TaskResultReport.model_validate(report).error_code is TaskErrorCode.EXECUTION_TIMEOUT
    assert TaskResultReport.model_validate({**report, "error_code": None}).error_code is None
