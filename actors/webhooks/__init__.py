"""Webhooks: events from outside, verified per webhook and turned into ordinary events.

A webhook is defined per tenant (:class:`WebhookDefinition`: a name, a provider
:class:`WebhookKind` and its secret, and CEL expressions for the event key and scope).
Requests to ``POST /api/v1/tenants/{tenant}/webhooks/{name}`` carry no token: the
:class:`Webhooks` service verifies them the provider's way (:mod:`._verify`), makes the
event, and the route (:func:`webhook_router`) pushes it through the tenant's gateway,
so it triggers workflows, passes filters and wakes durable waits like any pushed event.
Secrets are sealed in the store (:mod:`._secrets`); refusals are recorded and listed.
"""

from ._definition import WebhookDefinition as WebhookDefinition
from ._definition import WebhookKind as WebhookKind
from ._definition import WebhookSettings as WebhookSettings
from ._errors import SealedSecretError as SealedSecretError
from ._errors import WebhookBodyTooLarge as WebhookBodyTooLarge
from ._errors import WebhookError as WebhookError
from ._errors import WebhookEventError as WebhookEventError
from ._errors import WebhookExists as WebhookExists
from ._errors import WebhookNotFound as WebhookNotFound
from ._errors import WebhookRateLimited as WebhookRateLimited
from ._errors import WebhookRejected as WebhookRejected
from ._errors import WebhookReplayed as WebhookReplayed
from ._errors import WebhookUnavailable as WebhookUnavailable
from ._routes import WEBHOOK_PATH as WEBHOOK_PATH
from ._routes import PushEvents as PushEvents
from ._routes import webhook_router as webhook_router
from ._secrets import SecretCipher as SecretCipher
from ._secrets import derive_key as derive_key
from ._service import Reception as Reception
from ._service import Webhooks as Webhooks
from ._service import WebhookStatistics as WebhookStatistics

__all__ = [
    "WEBHOOK_PATH",
    "PushEvents",
    "Reception",
    "SealedSecretError",
    "SecretCipher",
    "WebhookBodyTooLarge",
    "WebhookDefinition",
    "WebhookError",
    "WebhookEventError",
    "WebhookExists",
    "WebhookKind",
    "WebhookNotFound",
    "WebhookRateLimited",
    "WebhookRejected",
    "WebhookReplayed",
    "WebhookSettings",
    "WebhookStatistics",
    "WebhookUnavailable",
    "Webhooks",
    "derive_key",
    "webhook_router",
]
