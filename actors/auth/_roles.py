"""The least role each gateway method needs, whichever door (nng or HTTP) the call came through."""

from __future__ import annotations

from ratchet._contract.calls import Method

from ._principal import Role

__all__ = ["METHOD_ROLES", "role_for"]

#: Every gateway method and the least role that may call it (a test checks none is missing).
METHOD_ROLES: dict[str, Role] = {
    # workers: running a worker executes the tenant's tasks and writes their results
    Method.REGISTER_WORKER: Role.MEMBER,
    Method.HEARTBEAT: Role.MEMBER,
    Method.DRAIN_WORKER: Role.MEMBER,
    Method.DEREGISTER_WORKER: Role.MEMBER,
    Method.TASK_RESULTS: Role.MEMBER,
    Method.RELEASE_SLOT: Role.MEMBER,
    Method.REFRESH_TIMEOUT: Role.MEMBER,
    Method.DURABLE_STEP: Role.MEMBER,
    # workflows and runs
    Method.REGISTER_WORKFLOWS: Role.MEMBER,
    Method.TRIGGER: Role.MEMBER,
    Method.CANCEL_RUNS: Role.MEMBER,
    Method.REPLAY_RUNS: Role.MEMBER,
    Method.GET_RUN: Role.VIEWER,
    Method.WAIT_RUN: Role.VIEWER,
    Method.LIST_RUNS: Role.VIEWER,
    Method.LIST_WORKERS: Role.VIEWER,
    Method.LIST_WORKFLOWS: Role.VIEWER,
    Method.PUT_RATE_LIMIT: Role.MEMBER,
    Method.LIST_RATE_LIMITS: Role.VIEWER,
    Method.DELETE_RATE_LIMIT: Role.MEMBER,
    # events, filters, crons, schedules
    Method.PUSH_EVENTS: Role.MEMBER,
    Method.CREATE_FILTER: Role.MEMBER,
    Method.LIST_FILTERS: Role.VIEWER,
    Method.DELETE_FILTER: Role.MEMBER,
    Method.CREATE_CRON: Role.MEMBER,
    Method.LIST_CRONS: Role.VIEWER,
    Method.GET_CRON: Role.VIEWER,
    Method.DELETE_CRON: Role.MEMBER,
    Method.PAUSE_CRON: Role.MEMBER,
    Method.RESUME_CRON: Role.MEMBER,
    Method.RUN_CRON_NOW: Role.MEMBER,
    Method.CREATE_SCHEDULE: Role.MEMBER,
    Method.LIST_SCHEDULES: Role.VIEWER,
    Method.GET_SCHEDULE: Role.VIEWER,
    Method.UPDATE_SCHEDULE: Role.MEMBER,
    Method.DELETE_SCHEDULE: Role.MEMBER,
    # operators: workers, workflows, metrics, timings, task details
    Method.GET_WORKER: Role.VIEWER,
    Method.PAUSE_WORKER: Role.MEMBER,
    Method.RESUME_WORKER: Role.MEMBER,
    Method.GET_WORKFLOW: Role.VIEWER,
    Method.LIST_WORKFLOW_VERSIONS: Role.VIEWER,
    Method.PAUSE_WORKFLOW: Role.MEMBER,
    Method.UNPAUSE_WORKFLOW: Role.MEMBER,
    Method.QUEUE_METRICS: Role.VIEWER,
    Method.GET_RUN_TIMINGS: Role.VIEWER,
    Method.GET_TASK: Role.VIEWER,
    Method.LIST_TASK_EVENTS: Role.VIEWER,
    # pushed events, read back
    Method.LIST_EVENTS: Role.VIEWER,
    Method.GET_EVENT: Role.VIEWER,
    Method.LIST_EVENT_KEYS: Role.VIEWER,
    # webhooks: defining one lets anyone holding its secret push the tenant's events
    Method.CREATE_WEBHOOK: Role.MEMBER,
    Method.LIST_WEBHOOKS: Role.VIEWER,
    Method.GET_WEBHOOK: Role.VIEWER,
    Method.DELETE_WEBHOOK: Role.MEMBER,
    Method.LIST_WEBHOOK_FAILURES: Role.VIEWER,
}


def role_for(method: str) -> Role | None:
    """The least role that may call gateway ``method``; None for a name that is no gateway method."""
    return METHOD_ROLES.get(method)
