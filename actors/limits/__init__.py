"""Per-tenant limits: runs, events and webhook calls a second, queued tasks, workers, payloads.

The pure core (:class:`TenantLimits`, :class:`TokenBucket`, :class:`TenantLimiter`) decides;
:class:`LimitGate` feeds it the counts the tenant's gateway reads. Over a limit, a request
gets :class:`~ratchet.TenantLimitError` (HTTP 429) naming the limit, and nothing is written.
"""

from ._bucket import TokenBucket as TokenBucket
from ._gate import QUEUED_REFRESH_SECONDS as QUEUED_REFRESH_SECONDS
from ._gate import LimitGate as LimitGate
from ._gate import load_limits as load_limits
from ._limiter import TenantLimiter as TenantLimiter
from ._model import DEFAULT_LIMITS as DEFAULT_LIMITS
from ._model import MAX_PAYLOAD_CAP as MAX_PAYLOAD_CAP
from ._model import Limit as Limit
from ._model import TenantLimits as TenantLimits
from ._model import limits_from_settings as limits_from_settings
from ._model import updated_limits as updated_limits
from ._usage import TenantUsage as TenantUsage
from ._usage import UsageCounters as UsageCounters

__all__ = [
    "DEFAULT_LIMITS",
    "MAX_PAYLOAD_CAP",
    "QUEUED_REFRESH_SECONDS",
    "Limit",
    "LimitGate",
    "TenantLimiter",
    "TenantLimits",
    "TenantUsage",
    "TokenBucket",
    "UsageCounters",
    "limits_from_settings",
    "load_limits",
    "updated_limits",
]
