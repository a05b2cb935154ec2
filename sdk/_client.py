"""The ``Ratchet`` client: where workflows are declared and the engine is reached.

``Ratchet()`` reads its settings from ``RATCHET_*`` environment variables (see
:class:`Settings`); ``ratchet.workflow(...)`` and ``@ratchet.task(...)`` declare work.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Unpack

from ._errors import DefinitionError
from ._workflow import Standalone, TaskFn, TaskOptionArgs, TaskOptions, Workflow

__all__ = ["DEFAULT_ENGINE_ADDRESS", "Ratchet", "Settings"]

DEFAULT_ENGINE_ADDRESS = "tcp://127.0.0.1:7077"


@dataclass(frozen=True)
class Settings:
    """Where the engine is and who we are to it.

    Attributes:
        engine: the engine's address (``RATCHET_ENGINE``, default ``tcp://127.0.0.1:7077``).
        tenant: the tenant (``RATCHET_TENANT``, default ``default``).
        token: an API token, if the engine requires one (``RATCHET_TOKEN``).
        namespace: a prefix for workflow names (``RATCHET_NAMESPACE``), to share a tenant.
    """

    engine: str = DEFAULT_ENGINE_ADDRESS
    tenant: str = "default"
    token: str | None = None
    namespace: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from ``RATCHET_*`` variables, with explicit ``overrides`` winning."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {
            "engine": env.get("RATCHET_ENGINE") or DEFAULT_ENGINE_ADDRESS,
            "tenant": env.get("RATCHET_TENANT") or "default",
            "token": env.get("RATCHET_TOKEN") or None,
            "namespace": env.get("RATCHET_NAMESPACE") or "",
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


class Ratchet:
    """The entry point of the SDK.

    Args:
        engine: the engine's address; default from ``RATCHET_ENGINE``.
        tenant: the tenant; default from ``RATCHET_TENANT``.
        token: an API token; default from ``RATCHET_TOKEN``.
        namespace: prefix for workflow names; default from ``RATCHET_NAMESPACE``.
    """

    def __init__(
        self,
        *,
        engine: str | None = None,
        tenant: str | None = None,
        token: str | None = None,
        namespace: str | None = None,
    ) -> None:
        self.settings = Settings.from_env(engine=engine, tenant=tenant, token=token, namespace=namespace)
        self.workflows: dict[str, Workflow] = {}

    def _register(self, workflow: Workflow) -> None:
        if workflow.name in self.workflows:
            raise DefinitionError(
                f"a workflow named {workflow.name!r} is already declared on this client; names are unique"
            )
        self.workflows[workflow.name] = workflow

    def workflow(
        self,
        name: str,
        *,
        description: str = "",
        on_events: Sequence[str] = (),
        on_crons: Sequence[str] = (),
        input_validator: Any = None,
        default_priority: int = 1,
    ) -> Workflow:
        """Declare a workflow; add tasks with ``@wf.task(...)``."""
        wf = Workflow(
            self,
            self.settings.namespace + name,
            description=description,
            on_events=on_events,
            on_crons=on_crons,
            input_validator=input_validator,
            default_priority=default_priority,
        )
        self._register(wf)
        return wf

    def task(
        self,
        name: str | None = None,
        *,
        description: str = "",
        on_events: Sequence[str] = (),
        on_crons: Sequence[str] = (),
        input_validator: Any = None,
        default_priority: int = 1,
        **options: Unpack[TaskOptionArgs],
    ) -> Callable[[TaskFn], Standalone]:
        """Declare a standalone task: a workflow of one task whose ``run`` returns its output."""
        checked = TaskOptions(**options)

        def decorate(fn: TaskFn) -> Standalone:
            task_name = name or getattr(fn, "__name__", "")
            standalone = Standalone(
                self,
                fn,
                self.settings.namespace + task_name if task_name else None,
                checked,
                description=description,
                on_events=on_events,
                on_crons=on_crons,
                input_validator=input_validator,
                default_priority=default_priority,
            )
            self._register(standalone)
            return standalone

        return decorate
