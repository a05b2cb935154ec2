"""How the feature clients call the engine: one gateway call each, refusals as ``ValueError``.

A request the engine refuses as malformed (:attr:`ErrorCode.REQUEST`: nothing was
changed) reaches the caller as a :class:`ValueError` carrying the engine's one-line
reason, as a bad argument to any Python function would; other failures stay the
:class:`~ratchet.runtime.ActorError` they are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ratchet.runtime import ActorError

from .._contract.calls import ErrorCode, error_code

if TYPE_CHECKING:
    from .._client import Ratchet

__all__ = ["ClientCalls", "refusal"]


class ClientCalls:
    """The base of a feature client (``ratchet.workers``, ``ratchet.cron``, ...)."""

    def __init__(self, client: Ratchet) -> None:
        self._client = client

    def _call(self, method: str, *args: Any) -> Any:
        try:
            return self._client.connection.call(method, *args)
        except ActorError as exc:
            raise refusal(exc) from None

    async def _acall(self, method: str, *args: Any) -> Any:
        try:
            return await self._client.connection.acall(method, *args)
        except ActorError as exc:
            raise refusal(exc) from None


def refusal(exc: ActorError) -> Exception:
    """What to raise for an engine error: a ``ValueError`` for a malformed request, else ``exc``."""
    if error_code(exc.error_type) is ErrorCode.REQUEST:
        return ValueError(exc.error_message)
    return exc
