"""The store: Ratchet's log of record, with group commit and three backends.

The engine writes through the :class:`StoreWriter` actor, which gathers typed
mutations from every caller and commits them in one transaction per batch; it reads
through a :class:`Store` (:class:`PostgresStore`, :class:`SQLiteStore` or
:class:`MemoryStore`), all three passing one conformance suite. Open one with
:func:`open_store`; :mod:`ratchet.actors.store._store` says what a store promises.
"""

from ratchet._contract.status import RunStatus as RunStatus
from ratchet._contract.status import ScheduleStatus as ScheduleStatus
from ratchet._contract.status import TaskEventKind as TaskEventKind
from ratchet._contract.status import TaskStatus as TaskStatus
from ratchet._contract.status import WorkerStatus as WorkerStatus

from ._errors import MigrationError as MigrationError
from ._errors import MutationRejected as MutationRejected
from ._errors import StoreClosedError as StoreClosedError
from ._errors import StoreError as StoreError
from ._errors import StoreWriterStopped as StoreWriterStopped
from ._errors import StreamBroken as StreamBroken
from ._memory import MemoryDatabase as MemoryDatabase
from ._memory import MemoryStore as MemoryStore
from ._migrations import MIGRATIONS as MIGRATIONS
from ._migrations import Migration as Migration
from ._mutations import AcquireConcurrencySlot as AcquireConcurrencySlot
from ._mutations import AppendDurableLog as AppendDurableLog
from ._mutations import AppendLogLine as AppendLogLine
from ._mutations import CancelSchedule as CancelSchedule
from ._mutations import CreateApiToken as CreateApiToken
from ._mutations import CreateCron as CreateCron
from ._mutations import CreateEventFilter as CreateEventFilter
from ._mutations import CreateRun as CreateRun
from ._mutations import CreateSchedule as CreateSchedule
from ._mutations import CreateTasks as CreateTasks
from ._mutations import CreateTenant as CreateTenant
from ._mutations import DeleteCron as DeleteCron
from ._mutations import DeleteEventFilter as DeleteEventFilter
from ._mutations import EnsureTenant as EnsureTenant
from ._mutations import FireSchedule as FireSchedule
from ._mutations import Heartbeat as Heartbeat
from ._mutations import Mutation as Mutation
from ._mutations import NewTask as NewTask
from ._mutations import PushEvent as PushEvent
from ._mutations import PutRateLimit as PutRateLimit
from ._mutations import RecordCronFire as RecordCronFire
from ._mutations import RegisterWorkflowVersion as RegisterWorkflowVersion
from ._mutations import ReleaseConcurrencySlot as ReleaseConcurrencySlot
from ._mutations import RescheduleSchedule as RescheduleSchedule
from ._mutations import ResolveDurableLog as ResolveDurableLog
from ._mutations import RevokeApiToken as RevokeApiToken
from ._mutations import SaveRateLimitWindow as SaveRateLimitWindow
from ._mutations import SetCurrentWorkflowVersion as SetCurrentWorkflowVersion
from ._mutations import SetRunStatus as SetRunStatus
from ._mutations import SetWorkerStatus as SetWorkerStatus
from ._mutations import TransitionTask as TransitionTask
from ._mutations import UpsertWorker as UpsertWorker
from ._objects import DirectoryObjectStore as DirectoryObjectStore
from ._objects import MemoryObjectStore as MemoryObjectStore
from ._objects import ObjectStore as ObjectStore
from ._open import open_store as open_store
from ._open import store_from_url as store_from_url
from ._postgres import PostgresStore as PostgresStore
from ._records import ApiToken as ApiToken
from ._records import ConcurrencySlot as ConcurrencySlot
from ._records import Cron as Cron
from ._records import CurrentWorkflowVersion as CurrentWorkflowVersion
from ._records import DurableLogEntry as DurableLogEntry
from ._records import Event as Event
from ._records import EventFilter as EventFilter
from ._records import LogLine as LogLine
from ._records import RateLimit as RateLimit
from ._records import RateLimitWindow as RateLimitWindow
from ._records import Run as Run
from ._records import Schedule as Schedule
from ._records import Task as Task
from ._records import TaskAttempt as TaskAttempt
from ._records import TaskEvent as TaskEvent
from ._records import Tenant as Tenant
from ._records import Worker as Worker
from ._records import Workflow as Workflow
from ._records import WorkflowVersion as WorkflowVersion
from ._schema import TABLES as TABLES
from ._sqlite import SQLiteStore as SQLiteStore
from ._store import DEFAULT_OFFLOAD_THRESHOLD as DEFAULT_OFFLOAD_THRESHOLD
from ._store import Store as Store
from ._store import StoreStatistics as StoreStatistics
from ._sweeper import ObjectSweeper as ObjectSweeper
from ._sweeper import ObjectSweeperStatistics as ObjectSweeperStatistics
from ._writer import CommitTicket as CommitTicket
from ._writer import StoreWriter as StoreWriter
from ._writer import StoreWriterStatistics as StoreWriterStatistics
from ._writer import commit as commit
from ._writer import commit_one as commit_one
from ._writer import wait_settled as wait_settled
