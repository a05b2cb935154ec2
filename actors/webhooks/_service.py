"""The webhooks service: define webhooks, and turn the requests they receive into events.

Theory of operation. A request to ``/api/v1/tenants/{tenant}/webhooks/{name}`` carries
no token: the webhook's own verification is its authentication. :meth:`Webhooks.receive`
takes it through these steps, and the first that fails refuses it with a
:class:`~._errors.WebhookError` before anything is pushed:

1. find the webhook (an unknown tenant and an unknown name both answer
   :class:`~._errors.WebhookNotFound`, after the same single read);
2. take a token from the webhook's :class:`~ratchet.actors.limits.TokenBucket` (else
   :class:`~._errors.WebhookRateLimited`);
3. check the body's size, open the sealed secret and verify the request
   (:mod:`._verify`);
4. parse the body and evaluate the key and scope CEL (:mod:`._events`); a Slack URL
   verification answers its challenge here and makes no event;
5. for providers that sign a delivery id (Svix), claim the id in the store: a second
   request with it inside its window is refused as a replay, by every engine sharing
   the database.

Refusals from step 3 on are recorded in the store (:meth:`Webhooks.failures` lists
them), with the reason and the start of the body; steps 1 and 2 record nothing, so an
unknown name or a flood costs no write. The caller pushes the events of the
:class:`Reception` through the tenant's gateway (``push_events``), which makes them
ordinary events (triggers, filters, durable waits); if that push fails, it calls
:meth:`Webhooks.release`, which forgets the claimed delivery id so that the sender's
retry is taken.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pydantic

from ratchet._contract.calls import MAX_ID_LENGTH
from ratchet._contract.protocol import RequestError, parse
from ratchet.runtime import Clock, RandomSource

from ..limits import TokenBucket
from ..store import (
    ClaimWebhookDelivery,
    CreateWebhook,
    DeleteWebhook,
    Mutation,
    MutationRejected,
    RecordWebhookFailure,
    ReleaseWebhookDelivery,
    Store,
    StoreError,
    Webhook,
)
from ._definition import WebhookDefinition, WebhookKind, WebhookSettings
from ._errors import (
    SealedSecretError,
    WebhookBodyTooLarge,
    WebhookError,
    WebhookExists,
    WebhookNotFound,
    WebhookRateLimited,
    WebhookReplayed,
    WebhookUnavailable,
)
from ._events import event_for, parse_body, slack_challenge
from ._secrets import SecretCipher
from ._verify import (
    Verified,
    header_map,
    verify_api_key,
    verify_basic,
    verify_github,
    verify_hmac,
    verify_slack,
    verify_stripe,
    verify_svix,
)

__all__ = [
    "DEFAULT_BURST",
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_RATE",
    "Commit",
    "Reception",
    "WebhookStatistics",
    "Webhooks",
]

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
DEFAULT_RATE = 20.0
"""Requests a second one webhook takes over time."""
DEFAULT_BURST = 100
"""Requests one webhook takes at once."""
EXCERPT_CHARACTERS = 256
"""How much of a refused request's body its failure record keeps."""
MAX_REASON_CHARACTERS = 2000
MAX_FAILURES_LISTED = 1000
_PRUNE_BATCH = 50  # expired delivery ids forgotten per claim

Commit = Callable[[Sequence[Mutation]], Awaitable[list[Any]]]
"""Commits mutations and returns their results: ``Store.commit``, or a StoreWriter's ``commit``."""

Views = list[dict[str, Any]]


@dataclass(frozen=True)
class Reception:
    """A request a webhook took: the events to push, or the challenge to answer.

    Attributes:
        tenant_id: the tenant whose gateway the events go to.
        webhook: the webhook's name.
        webhook_id: the webhook's id.
        events: ``push_events`` requests (one; none for a challenge).
        challenge: a Slack URL verification's challenge, to answer as is.
        delivery: the delivery id claimed for this request, if its provider signs one.
    """

    tenant_id: str
    webhook: str
    webhook_id: str
    events: tuple[dict[str, Any], ...]
    challenge: str | None = None
    delivery: Verified | None = None


@dataclass(frozen=True)
class WebhookStatistics:
    """Counters of the webhooks service.

    Attributes:
        accepted: requests that made an event (or answered a challenge).
        refused: requests refused after their webhook was found (each recorded as a failure).
        not_found: requests to a webhook that does not exist.
        rate_limited: requests refused by a webhook's rate limit.
        unrecorded: refusals whose failure record could not be written.
    """

    accepted: int
    refused: int
    not_found: int
    rate_limited: int
    unrecorded: int


def _is_name(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_ID_LENGTH and value.isprintable()


def _context(tenant_id: str, webhook_id: str) -> str:
    """What a webhook's sealed secret is bound to."""
    return json.dumps(["webhook", tenant_id, webhook_id])


def _storable(text: str, limit: int) -> str:
    """``text`` as the store can keep it: at most ``limit`` characters, no NUL, no lone surrogate."""
    text = text[:limit].replace("\x00", "\ufffd")
    return text.encode("utf-8", "replace").decode("utf-8")


def _excerpt(body: bytes) -> str | None:
    if not body:
        return None
    return _storable(body[: EXCERPT_CHARACTERS * 4].decode("utf-8", "replace"), EXCERPT_CHARACTERS)


def verify(
    settings: WebhookSettings, secret: str, headers: Mapping[str, str], body: bytes, now: float
) -> Verified:
    """Verify a request the way ``settings`` say (see :mod:`._verify`).

    Raises:
        WebhookRejected: the request failed verification.
    """
    kind = settings.kind
    if kind is WebhookKind.HMAC:
        assert settings.header is not None
        return verify_hmac(
            secret,
            headers,
            body,
            now,
            header=settings.header,
            algorithm=settings.algorithm,
            encoding=settings.encoding,
            prefix=settings.prefix,
        )
    if kind is WebhookKind.API_KEY:
        assert settings.header is not None
        return verify_api_key(secret, headers, body, now, header=settings.header)
    if kind is WebhookKind.BASIC:
        assert settings.username is not None
        return verify_basic(secret, headers, body, now, username=settings.username)
    simple = {
        WebhookKind.STRIPE: verify_stripe,
        WebhookKind.SLACK: verify_slack,
        WebhookKind.GITHUB: verify_github,
        WebhookKind.SVIX: verify_svix,
    }
    return simple[kind](secret, headers, body, now)


class Webhooks:
    """Webhooks of every tenant: their definitions, their failures, and the requests they take.

    A plain object, not an actor: the HTTP route and the engine's API call it from
    their own tasks, and all it shares between calls is the rate-limit buckets.

    Args:
        store: where webhooks, failures and delivery ids are read.
        commit: how they are written (``store.commit``, or a StoreWriter's ``commit``).
        key: the 32-byte key sealing webhook secrets (see
            :func:`~._secrets.derive_key`; the engine derives it from its key material).
        clock: the runtime clock: wall time for timestamps, monotonic time for rate limits.
        random: the runtime's random source, for webhook ids.
        rate: requests a second each webhook takes over time.
        burst: requests each webhook takes at once.
        max_body_bytes: the largest body accepted.
        max_buckets: rate-limit buckets kept (least recently used ones go first).

    Raises:
        ValueError: a limit out of range or a key that is not 32 bytes.
    """

    def __init__(
        self,
        store: Store,
        commit: Commit,
        key: bytes,
        clock: Clock,
        random: RandomSource,
        *,
        rate: float = DEFAULT_RATE,
        burst: int = DEFAULT_BURST,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        max_buckets: int = 10_000,
    ) -> None:
        TokenBucket(rate, burst, 0.0)  # checks rate and burst
        if isinstance(max_body_bytes, bool) or not isinstance(max_body_bytes, int) or max_body_bytes < 1:
            raise ValueError(f"Webhooks: max_body_bytes must be an int >= 1, got {max_body_bytes!r}")
        if isinstance(max_buckets, bool) or not isinstance(max_buckets, int) or max_buckets < 1:
            raise ValueError(f"Webhooks: max_buckets must be an int >= 1, got {max_buckets!r}")
        self.store = store
        self._commit = commit
        self._cipher = SecretCipher(key)
        self.clock = clock
        self._random = random
        self.rate = rate
        self.burst = burst
        self.max_body_bytes = max_body_bytes
        self.max_buckets = max_buckets
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()
        self._counts = dict.fromkeys(("accepted", "refused", "not_found", "rate_limited", "unrecorded"), 0)

    def statistics(self) -> WebhookStatistics:
        """The service's counters."""
        return WebhookStatistics(**self._counts)

    # -- definitions ---------------------------------------------------------------------------

    async def create(
        self, tenant_id: str, definition: WebhookDefinition | Mapping[str, Any]
    ) -> dict[str, Any]:
        """Add a webhook to a tenant; returns its view (see :meth:`get`).

        Args:
            tenant_id: the tenant.
            definition: a :class:`WebhookDefinition`, or the mapping it is parsed from.

        Raises:
            RequestError: the tenant id or the definition is malformed (the message names
                every problem, never the secret); nothing was stored.
            WebhookExists: the tenant has a webhook of that name.
        """
        if not _is_name(tenant_id):
            raise RequestError(f"create webhook: {tenant_id!r} is not a tenant id")
        checked: WebhookDefinition = (
            definition
            if isinstance(definition, WebhookDefinition)
            else parse(WebhookDefinition, definition, "webhook definition")
        )
        webhook_id = self._random.new_id()
        sealed = self._cipher.seal(checked.secret.get_secret_value(), context=_context(tenant_id, webhook_id))
        at = self.clock.time()
        mutation = CreateWebhook(
            tenant_id=tenant_id,
            name=checked.name,
            id=webhook_id,
            kind=checked.kind.value,
            settings=checked.stored(),
            sealed_secret=sealed,
            at=at,
        )
        try:
            await self._commit([mutation])
        except MutationRejected:
            if await self.store.get_webhook(tenant_id, checked.name) is None:
                raise
            raise WebhookExists(
                f"tenant {tenant_id!r} has a webhook named {checked.name!r} already; "
                "delete it first, or choose another name"
            ) from None
        return {"id": webhook_id, "name": checked.name, **checked.view(), "created_at": at}

    async def list(self, tenant_id: str) -> Views:
        """A tenant's webhooks by name, each as :meth:`get` shows it (no secrets)."""
        if not _is_name(tenant_id):
            return []
        return [self._view(record) for record in await self.store.list_webhooks(tenant_id)]

    async def get(self, tenant_id: str, name: str) -> dict[str, Any]:
        """A webhook: ``id``, ``name``, ``kind``, its settings and ``created_at``; never its secret.

        Raises:
            WebhookNotFound: no such webhook (or tenant).
        """
        return self._view(await self._find(tenant_id, name))

    async def delete(self, tenant_id: str, name: str) -> bool:
        """Remove a webhook; False if there was none. Requests to it then answer "no such webhook"."""
        if not (_is_name(tenant_id) and _is_name(name)):
            return False
        record = await self.store.get_webhook(tenant_id, name)
        (deleted,) = await self._commit([DeleteWebhook(tenant_id=tenant_id, name=name)])
        if record is not None:
            self._buckets.pop(record.id, None)
        return bool(deleted)

    async def failures(self, tenant_id: str, name: str, *, limit: int = 100) -> Views:
        """The requests a webhook refused, newest first: ``at``, ``reason``, ``excerpt`` (the body's start).

        Raises:
            WebhookNotFound: no such webhook (or tenant).
            RequestError: ``limit`` is not 1 to 1000.
        """
        if isinstance(limit, bool) or not isinstance(limit, int) or not 0 < limit <= MAX_FAILURES_LISTED:
            raise RequestError(f"webhook failures: limit must be 1 to {MAX_FAILURES_LISTED}, got {limit!r}")
        record = await self._find(tenant_id, name)
        rows = await self.store.list_webhook_failures(tenant_id, record.id, limit=limit)
        return [{"at": row.at, "reason": row.reason, "excerpt": row.excerpt} for row in rows]

    async def _find(self, tenant_id: str, name: str) -> Webhook:
        record = (
            await self.store.get_webhook(tenant_id, name) if _is_name(tenant_id) and _is_name(name) else None
        )
        if record is None:
            raise WebhookNotFound()
        return record

    @staticmethod
    def _view(record: Webhook) -> dict[str, Any]:
        try:
            settings = WebhookSettings.from_stored(record.kind, record.settings).view()
        except pydantic.ValidationError:
            settings = {"kind": record.kind, "invalid": "the stored settings are not valid; create it again"}
        return {"id": record.id, "name": record.name, **settings, "created_at": record.created_at}

    # -- requests ------------------------------------------------------------------------------

    async def receive(
        self,
        tenant_id: str,
        name: str,
        headers: Mapping[str, str] | Iterable[tuple[str, str]],
        body: bytes,
    ) -> Reception:
        """Verify a request to a webhook and make its event (see the module docstring).

        Args:
            tenant_id: the tenant named in the URL.
            name: the webhook named in the URL.
            headers: the request's headers (names in any case).
            body: the raw body, as received (at most ``max_body_bytes + 1`` need be read).

        Returns:
            The events to push through the tenant's gateway, or the challenge to answer.

        Raises:
            WebhookNotFound: no such webhook (or tenant).
            WebhookRateLimited: the webhook's rate is exceeded.
            WebhookBodyTooLarge: the body is over ``max_body_bytes``.
            WebhookRejected: verification failed; WebhookReplayed: a repeated delivery.
            WebhookEventError: the body or a CEL expression makes no event.
            WebhookUnavailable: the webhook cannot verify requests now (its stored secret
                or settings cannot be read).
            TypeError: ``body`` is not bytes or ``headers`` not name/value pairs.
        """
        if not isinstance(body, bytes | bytearray | memoryview):
            raise TypeError(f"receive: body must be the raw bytes of the request, got {type(body).__name__}")
        try:
            lower = header_map(headers)
        except (AttributeError, TypeError, ValueError):
            raise TypeError(
                "receive: headers must be a mapping (or pairs) of header names to values"
            ) from None
        body = bytes(body)
        try:
            record = await self._find(tenant_id, name)
        except WebhookNotFound:
            self._counts["not_found"] += 1
            raise
        self._take_token(record.id)
        try:
            reception = await self._take(record, lower, body)
        except WebhookError as exc:
            self._counts["refused"] += 1
            await self._record(record, exc.detail, body)
            raise
        self._counts["accepted"] += 1
        return reception

    async def release(self, reception: Reception, reason: str) -> None:
        """Undo a :class:`Reception` whose events could not be pushed: record why, forget its delivery id.

        Forgetting the id lets the sender's retry of the same delivery through.
        """
        delivery = reception.delivery
        mutations: list[Mutation] = [
            RecordWebhookFailure(
                tenant_id=reception.tenant_id,
                webhook_id=reception.webhook_id,
                reason=_storable(reason, MAX_REASON_CHARACTERS),
                at=self.clock.time(),
            )
        ]
        if delivery is not None and delivery.delivery_id is not None:
            mutations.append(
                ReleaseWebhookDelivery(
                    tenant_id=reception.tenant_id,
                    webhook_id=reception.webhook_id,
                    delivery_id=delivery.delivery_id,
                    expires_at=delivery.expires_at,
                )
            )
        await self._commit(mutations)

    def _take_token(self, webhook_id: str) -> None:
        now = self.clock.monotonic()
        bucket = self._buckets.get(webhook_id)
        if bucket is None:
            bucket = self._buckets[webhook_id] = TokenBucket(self.rate, self.burst, now)
            while len(self._buckets) > self.max_buckets:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(webhook_id)
        if not bucket.take(1, now):
            self._counts["rate_limited"] += 1
            raise WebhookRateLimited(bucket.retry_after(1, now) or 0.0)

    async def _take(self, record: Webhook, headers: dict[str, str], body: bytes) -> Reception:
        if len(body) > self.max_body_bytes:
            raise WebhookBodyTooLarge(self.max_body_bytes)
        try:
            settings = WebhookSettings.from_stored(record.kind, record.settings)
            secret = self._cipher.open(record.sealed_secret, context=_context(record.tenant_id, record.id))
        except (pydantic.ValidationError, SealedSecretError) as exc:
            raise WebhookUnavailable(
                "this webhook cannot verify requests now",
                f"the webhook's stored {'secret' if isinstance(exc, SealedSecretError) else 'settings'} "
                "cannot be read; create the webhook again",
            ) from None
        now = self.clock.time()
        verified = verify(settings, secret, headers, body, now)
        payload = parse_body(body, headers.get("content-type"))
        challenge = slack_challenge(settings.kind, payload)
        events = () if challenge is not None else (event_for(record.name, settings, payload, headers),)
        await self._claim(record, verified, now)
        return Reception(record.tenant_id, record.name, record.id, events, challenge, verified)

    async def _claim(self, record: Webhook, verified: Verified, now: float) -> None:
        """Claim a signed delivery id, forgetting ids whose window has passed."""
        delivery_id, expires_at = verified.delivery_id, verified.expires_at
        if delivery_id is None or expires_at is None:
            return
        tenant_id, webhook_id = record.tenant_id, record.id
        held = await self.store.get_webhook_delivery(tenant_id, webhook_id, delivery_id)
        if held is not None and held.expires_at >= now:
            raise _replayed()
        expired = await self.store.list_expired_webhook_deliveries(
            tenant_id, webhook_id, now, limit=_PRUNE_BATCH
        )
        if held is not None and held not in expired:
            expired.append(held)
        mutations: list[Mutation] = [
            ReleaseWebhookDelivery(
                tenant_id=tenant_id, webhook_id=webhook_id, delivery_id=d.delivery_id, expires_at=d.expires_at
            )
            for d in expired
        ]
        mutations.append(
            ClaimWebhookDelivery(
                tenant_id=tenant_id, webhook_id=webhook_id, delivery_id=delivery_id, expires_at=expires_at
            )
        )
        try:
            await self._commit(mutations)
        except MutationRejected:
            raise _replayed() from None

    async def _record(self, record: Webhook, reason: str, body: bytes) -> None:
        failure = RecordWebhookFailure(
            tenant_id=record.tenant_id,
            webhook_id=record.id,
            reason=_storable(reason, MAX_REASON_CHARACTERS),
            excerpt=_excerpt(body),
            at=self.clock.time(),
        )
        try:
            await self._commit([failure])
        except StoreError:
            # the refusal stands whether or not it could be written down
            self._counts["unrecorded"] += 1


def _replayed() -> WebhookReplayed:
    return WebhookReplayed("this delivery was received already; a replay is refused")
