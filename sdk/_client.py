"""The ``Ratchet`` client: where workflows are declared and the engine is reached.

``Ratchet()`` reads its settings from ``RATCHET_*`` environment variables (see
:class:`Settings`); ``ratchet.workflow(...)`` and ``@ratchet.task(...)`` declare work.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Unpack

from ._clients.metrics import MetricsClient
from ._clients.rate_limits import RateLimitsClient
from ._clients.runs import RunsClient
from ._clients.triggers import CronClient, EventClient, FiltersClient, ScheduledClient
from ._clients.webhooks import WebhooksClient
from ._clients.workers import WorkersClient
from ._clients.workflows import WorkflowsClient
from ._connection import DEFAULT_RECONNECT_TIMEOUT, Connection, remote_gateway, signer_for
from ._contract.flow import WorkerLabel
from ._contract.spec import TaskKind
from ._declare.workflow import Standalone, TaskFn, TaskOptionArgs, TaskOptions, Workflow, _eviction_delay
from ._errors import DefinitionError
from ._worker.worker import Worker, WorkerConfig

if TYPE_CHECKING:
    from ratchet.transport import DialerTls

__all__ = ["DEFAULT_ENGINE_ADDRESS", "Ratchet", "Settings"]

DEFAULT_ENGINE_ADDRESS = "tcp://127.0.0.1:7077"

# Each TLS setting of the client (by its DialerTls field): its variable and its keyword.
_TLS_SOURCES = {
    "ca_file": ("RATCHET_TLS_CA", "tls_ca"),
    "server_name": ("RATCHET_TLS_SERVER_NAME", "tls_server_name"),
    "cert_file": ("RATCHET_TLS_CERT", "tls_cert"),
    "key_file": ("RATCHET_TLS_KEY", "tls_key"),
}


def _tls_source(setting: str) -> str:
    variable, keyword = _TLS_SOURCES[setting]
    return f"{variable} or Ratchet({keyword}=...)"


@dataclass(frozen=True)
class Settings:
    """Where the engine is and who we are to it.

    Attributes:
        engine: the engine's address (``RATCHET_ENGINE``, default ``tcp://127.0.0.1:7077``).
        tenant: the tenant expected (``RATCHET_TENANT``); over the wire the token decides the
            tenant, and a token of another tenant is refused. Unset: the token's tenant
            (embedded: the engine's first tenant).
        token: the API token that signs this client and its workers in to a remote engine
            (``RATCHET_TOKEN``); unset: the token an engine on this machine wrote for its
            owner (see :func:`ratchet._session.local_token_path`).
        namespace: a prefix for workflow names (``RATCHET_NAMESPACE``), to share a tenant.
        reconnect_timeout: seconds a call keeps trying to reach an engine out of reach
            before it raises :class:`~ratchet.EngineUnreachableError`
            (``RATCHET_RECONNECT_TIMEOUT``, default 120). It does not limit how long a
            wait for a run lasts while the engine answers.
        tls_ca: for an engine at a ``tls+tcp://`` address (required there): a PEM file
            of the CA certificates that may sign the engine's certificate
            (``RATCHET_TLS_CA``).
        tls_server_name: the name the engine's certificate must carry
            (``RATCHET_TLS_SERVER_NAME``); default: the host of ``engine``.
        tls_cert: this client's certificate, PEM, for an engine that requires client
            certificates (``RATCHET_TLS_CERT``); with ``tls_key``.
        tls_key: the unencrypted private key of ``tls_cert`` (``RATCHET_TLS_KEY``).
    """

    engine: str = DEFAULT_ENGINE_ADDRESS
    tenant: str | None = None
    token: str | None = None
    namespace: str = ""
    reconnect_timeout: float = DEFAULT_RECONNECT_TIMEOUT
    tls_ca: str | None = None
    tls_server_name: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None

    def __post_init__(self) -> None:
        seconds = self.reconnect_timeout
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not seconds > 0:
            raise ValueError(
                f"reconnect_timeout must be a positive number of seconds, got {seconds!r} "
                "(from Ratchet(reconnect_timeout=...) or RATCHET_RECONNECT_TIMEOUT)"
            )
        for setting, value in self._tls_settings().items():
            if value is not None and not isinstance(value, str | os.PathLike):
                raise ValueError(f"{_tls_source(setting)} must be a path or a name, got {value!r}")

    def _tls_settings(self) -> dict[str, Any]:
        return {
            "ca_file": self.tls_ca,
            "server_name": self.tls_server_name,
            "cert_file": self.tls_cert,
            "key_file": self.tls_key,
        }

    def _check_tls(self) -> None:
        """Check that TLS settings come exactly with a ``tls+tcp://`` engine.

        Checked when dialing, not when made: an embedded engine dials nothing.

        Raises:
            ValueError: a TLS engine without a CA, or TLS settings for a plain one.
        """
        tls = self._tls_settings()
        if self.engine.startswith("tls+"):
            if self.tls_ca is None:
                raise ValueError(
                    f"the engine address {self.engine} carries TLS, so the client must verify the "
                    "engine's certificate: set RATCHET_TLS_CA (or Ratchet(tls_ca=...)) to the PEM file "
                    "of the CA that signed it"
                )
            return
        given = [_TLS_SOURCES[setting][0] for setting, value in tls.items() if value is not None]
        if given:
            rest = self.engine.partition("://")[2] or "host:port"
            raise ValueError(
                f"{', '.join(given)} {'is' if len(given) == 1 else 'are'} set, but the engine address "
                f"{self.engine} does not carry TLS, so the connection would not be encrypted; dial "
                f"tls+tcp://{rest} (RATCHET_ENGINE or Ratchet(engine=...)), or unset the TLS settings"
            )

    def dialer_tls(self) -> DialerTls | None:
        """The :class:`~ratchet.transport.DialerTls` to dial the engine with (None without TLS).

        Reads and checks the certificate files now.

        Raises:
            ValueError: a TLS engine without a CA, TLS settings for an engine without TLS,
                or a file missing or holding the wrong thing; the message names the
                setting (variable and keyword) it came from.
        """
        self._check_tls()
        if not self.engine.startswith("tls+"):
            return None
        from ratchet.transport import DialerTls, TlsSettingError

        assert self.tls_ca is not None  # _check_tls made sure of it
        try:
            return DialerTls(
                self.tls_ca,
                server_name=self.tls_server_name,
                cert_file=self.tls_cert,
                key_file=self.tls_key,
            )
        except TlsSettingError as exc:
            raise ValueError(f"{exc} (from {_tls_source(exc.setting)}); nothing was dialed") from None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from ``RATCHET_*`` variables, with explicit ``overrides`` winning."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {
            "engine": env.get("RATCHET_ENGINE") or DEFAULT_ENGINE_ADDRESS,
            "tenant": env.get("RATCHET_TENANT") or None,
            "token": env.get("RATCHET_TOKEN") or None,
            "namespace": env.get("RATCHET_NAMESPACE") or "",
            "tls_ca": env.get("RATCHET_TLS_CA") or None,
            "tls_server_name": env.get("RATCHET_TLS_SERVER_NAME") or None,
            "tls_cert": env.get("RATCHET_TLS_CERT") or None,
            "tls_key": env.get("RATCHET_TLS_KEY") or None,
        }
        reconnect = env.get("RATCHET_RECONNECT_TIMEOUT")
        if reconnect:
            try:
                values["reconnect_timeout"] = float(reconnect)
            except ValueError:
                raise ValueError(
                    f"RATCHET_RECONNECT_TIMEOUT must be a number of seconds, got {reconnect!r}"
                ) from None
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


class Ratchet:
    """The entry point of the SDK.

    Args:
        engine: the engine's address; default from ``RATCHET_ENGINE``.
        tenant: the tenant; default from ``RATCHET_TENANT``.
        token: an API token; default from ``RATCHET_TOKEN``.
        namespace: prefix for workflow names; default from ``RATCHET_NAMESPACE``.
        reconnect_timeout: seconds a call keeps trying to reach an engine out of reach;
            default from ``RATCHET_RECONNECT_TIMEOUT``, else 120 (see :class:`Settings`).
        tls_ca: for a ``tls+tcp://`` engine: the PEM file of the CA that signed its
            certificate; default from ``RATCHET_TLS_CA``.
        tls_server_name: the name the engine's certificate carries, if not the host
            dialed; default from ``RATCHET_TLS_SERVER_NAME``.
        tls_cert: this client's certificate, for an engine that requires client
            certificates; default from ``RATCHET_TLS_CERT``.
        tls_key: the private key of ``tls_cert``; default from ``RATCHET_TLS_KEY``.
    """

    def __init__(
        self,
        *,
        engine: str | None = None,
        tenant: str | None = None,
        token: str | None = None,
        namespace: str | None = None,
        reconnect_timeout: float | None = None,
        tls_ca: str | None = None,
        tls_server_name: str | None = None,
        tls_cert: str | None = None,
        tls_key: str | None = None,
    ) -> None:
        self.settings = Settings.from_env(
            engine=engine,
            tenant=tenant,
            token=token,
            namespace=namespace,
            reconnect_timeout=reconnect_timeout,
            tls_ca=tls_ca,
            tls_server_name=tls_server_name,
            tls_cert=tls_cert,
            tls_key=tls_key,
        )
        # the workflows declared here, by name; also the engine's workflows (list, get, pause)
        self.workflows = WorkflowsClient(self)
        self._connection: Connection | None = None
        #: with ``embedded(..., http=...)``: the REST API's URL and an admin token (see
        #: :class:`ratchet._host.embedded.EmbeddedApi`); None otherwise
        self.api: Any = None
        self.runs = RunsClient(self)
        self.event = EventClient(self)
        self.filters = FiltersClient(self)
        self.cron = CronClient(self)
        self.scheduled = ScheduledClient(self)
        self.rate_limits = RateLimitsClient(self)
        self.workers = WorkersClient(self)
        self.metrics = MetricsClient(self)
        self.webhooks = WebhooksClient(self)

    # -- reaching the engine ------------------------------------------------------------------

    @property
    def connection(self) -> Connection:
        """The line to the engine, opened on first use (over nng to ``settings.engine``)."""
        if self._connection is None:
            settings = self.settings
            self._connection = Connection(
                remote_gateway(settings.engine, tls=settings.dialer_tls()),
                reconnect_timeout=settings.reconnect_timeout,
                address=settings.engine,
                signer=signer_for(settings.engine, settings.token, settings.tenant),
            ).start()
        return self._connection

    def embedded(
        self,
        database: str = "memory://",
        *,
        workers: Sequence[Worker] = (),
        options: Any = None,
        http: str | None = None,
    ) -> Ratchet:
        """Run the engine inside this process, with ``workers``; this client then talks to it.

        Args:
            database: ``memory://`` (gone when the process ends), ``sqlite:///path.db``
                or a ``postgresql://`` URL.
            workers: workers (from :meth:`worker`) to run in this process too.
            options: :class:`~ratchet.actors.EngineOptions` for the engine.
            http: ``host:port`` to serve the REST API on as well (off by default; port 0
                picks a free one); :attr:`api` then holds its URL and an admin token.

        Returns this client, usable as a context manager that stops the engine on exit
        (or call :meth:`close`).
        """
        from ._host.embedded import EmbeddedApi, embedded_engine

        if self._connection is not None:
            raise RuntimeError("this client is already connected to an engine")
        self.api = EmbeddedApi()
        self._connection = Connection(
            embedded_engine(database, [w.config for w in workers], options, http=http, api=self.api),
            name="ratchet-embedded",
            reconnect_timeout=self.settings.reconnect_timeout,
        ).start()
        return self

    def close(self) -> None:
        """Close the connection (and stop an embedded engine and its workers)."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def __enter__(self) -> Ratchet:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def worker(
        self,
        name: str,
        *,
        slots: int = 10,
        durable_slots: int = 1000,
        labels: Mapping[str, str | int] | Sequence[WorkerLabel] | None = None,
        workflows: Sequence[Workflow] | None = None,
        async_backend: str = "trio",
    ) -> Worker:
        """A worker running ``workflows`` (default: every workflow of this client).

        ``slots`` ordinary and ``durable_slots`` durable tasks run at once; ``labels``
        (a dict or a list of :class:`WorkerLabel`) are matched by tasks'
        ``desired_worker_labels``. ``async_backend`` is ``"trio"`` or ``"asyncio"``: what
        ``async def`` task functions of this worker are written for. Call ``.start()``
        to run it.
        """
        config = WorkerConfig(
            name=name,
            workflows=list(self.workflows.values()) if workflows is None else list(workflows),
            slots=slots,
            durable_slots=durable_slots,
            labels=labels,  # type: ignore[arg-type]  # validated by desired_labels() inside the spec
            async_backend=async_backend,
        )
        return Worker(self, config)

    def durable_task(
        self,
        name: str | None = None,
        *,
        description: str = "",
        on_events: Sequence[str] = (),
        on_crons: Sequence[str] = (),
        input_validator: Any = None,
        default_priority: int = 1,
        default_filters: Sequence[Any] = (),
        cron_input: Any = None,
        sticky: Any = None,
        eviction_delay: Any = 1.0,
        **options: Unpack[TaskOptionArgs],
    ) -> Callable[[TaskFn], Standalone]:
        """Declare a standalone durable task (see :meth:`Workflow.durable_task`)."""
        return self._standalone(
            name,
            TaskOptions(**options),
            kind=TaskKind.DURABLE,
            eviction_delay=_eviction_delay(eviction_delay, name or "durable task"),
            description=description,
            on_events=on_events,
            on_crons=on_crons,
            input_validator=input_validator,
            default_priority=default_priority,
            default_filters=default_filters,
            cron_input=cron_input,
            sticky=sticky,
        )

    def _standalone(
        self, name: str | None, checked: TaskOptions, **options: Any
    ) -> Callable[[TaskFn], Standalone]:
        """The decorator of :meth:`task` and :meth:`durable_task`: a one-task workflow per function."""

        def decorate(fn: TaskFn) -> Standalone:
            task_name = name or getattr(fn, "__name__", "")
            namespaced = self.settings.namespace + task_name if task_name else None
            standalone = Standalone(self, fn, namespaced, checked, **options)
            self._register(standalone)
            return standalone

        return decorate

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
        default_filters: Sequence[Any] = (),
        cron_input: Any = None,
        concurrency: Any = None,
        sticky: Any = None,
    ) -> Workflow:
        """Declare a workflow; add tasks with ``@wf.task(...)``.

        ``on_events`` lists event keys (``*`` wildcards) that start a run,
        ``default_filters`` (:class:`DefaultFilter`) filter them, ``on_crons`` lists cron
        expressions whose runs get ``cron_input``. ``concurrency`` limits whole runs (an
        int, a :class:`ConcurrencyExpression` or a list of them); ``sticky`` keeps each
        run's tasks on one worker.
        """
        wf = Workflow(
            self,
            self.settings.namespace + name,
            description=description,
            on_events=on_events,
            on_crons=on_crons,
            input_validator=input_validator,
            default_priority=default_priority,
            default_filters=default_filters,
            cron_input=cron_input,
            concurrency=concurrency,
            sticky=sticky,
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
        default_filters: Sequence[Any] = (),
        cron_input: Any = None,
        sticky: Any = None,
        **options: Unpack[TaskOptionArgs],
    ) -> Callable[[TaskFn], Standalone]:
        """Declare a standalone task: a workflow of one task whose ``run`` returns its output.

        Its ``concurrency``, ``rate_limits`` and ``desired_worker_labels`` apply to the task.
        """
        return self._standalone(
            name,
            TaskOptions(**options),
            description=description,
            on_events=on_events,
            on_crons=on_crons,
            input_validator=input_validator,
            default_priority=default_priority,
            default_filters=default_filters,
            cron_input=cron_input,
            sticky=sticky,
        )
