"""Which runs a bulk cancel or replay takes: ids, or a filter (hatchet-sdk's shapes).

``ratchet.runs.bulk_cancel(BulkCancelReplayOpts(filters=RunFilter(since=..., ...)))``
ports from hatchet-sdk unchanged; Ratchet adds ``metadata_match`` (``"all"`` pairs, as
Hatchet matches, or ``"any"`` one of them). Times are datetimes (naive ones are local
time) or epoch seconds. The engine checks the request; a refusal is a ``ValueError``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

import pydantic

from .._contract.status import RunStatus
from .triggers import to_epoch

__all__ = ["BulkCancelReplayOpts", "RunFilter", "bulk_request"]


class RunFilter(pydantic.BaseModel):
    """Runs created in ``[since, until)``, in one of ``statuses``, of one of
    ``workflow_ids`` (ids or names), whose metadata holds the ``additional_metadata``
    pairs (all of them, or with ``metadata_match="any"`` one of them)."""

    model_config = pydantic.ConfigDict(defer_build=True)  # built on first use: import ratchet stays light

    since: datetime | float
    until: datetime | float | None = None
    statuses: list[RunStatus] | None = None
    workflow_ids: list[str] | None = None
    additional_metadata: dict[str, Any] | None = None
    metadata_match: Literal["all", "any"] = "all"

    def to_wire(self) -> dict[str, Any]:
        """The filter as the engine takes it (``RunFilterRequest``)."""
        out: dict[str, Any] = {"since": to_epoch(self.since, "since"), "metadata_match": self.metadata_match}
        if self.until is not None:
            out["until"] = to_epoch(self.until, "until")
        if self.statuses is not None:
            out["statuses"] = [str(s) for s in self.statuses]
        if self.workflow_ids is not None:
            out["workflow_ids"] = list(self.workflow_ids)
        if self.additional_metadata is not None:
            out["additional_metadata"] = dict(self.additional_metadata)
        return out


class BulkCancelReplayOpts(pydantic.BaseModel):
    """The runs of a bulk cancel or replay: ``ids`` or ``filters``, exactly one."""

    model_config = pydantic.ConfigDict(defer_build=True)

    ids: list[str] | None = None
    filters: RunFilter | None = None

    @pydantic.model_validator(mode="after")
    def _one_of(self) -> BulkCancelReplayOpts:
        if not self.ids and not self.filters:
            raise ValueError("ids or filters must be set")
        if self.ids and self.filters:
            raise ValueError("ids and filters cannot both be set")
        return self


def bulk_request(runs: BulkCancelReplayOpts | RunFilter | Sequence[str]) -> dict[str, Any]:
    """The request of ``cancel_runs`` / ``replay_runs`` for ids, a filter, or options.

    Raises:
        ValueError: ``runs`` is none of these.
    """
    if isinstance(runs, BulkCancelReplayOpts):
        if runs.filters is not None:
            return {"filter": runs.filters.to_wire()}
        return {"ids": list(runs.ids or ())}
    if isinstance(runs, RunFilter):
        return {"filter": runs.to_wire()}
    if isinstance(runs, str | bytes) or not isinstance(runs, Sequence):
        raise ValueError(f"expected run ids, a RunFilter or BulkCancelReplayOpts, got {type(runs).__name__}")
    return {"ids": list(runs)}
