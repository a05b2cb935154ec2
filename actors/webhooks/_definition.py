"""What a webhook is: its definition as its owner writes it, validated at the edge.

A :class:`WebhookDefinition` names the webhook (it becomes the last part of its URL),
says how requests are verified (:class:`WebhookKind` and the settings of that kind), and
how a verified request becomes an event: the event key (and optional scope) are CEL
expressions over ``input`` (the parsed body) and ``headers`` (lower-case names), and an
optional static payload is merged over the body. Everything but the secret is the
webhook's :class:`WebhookSettings`, stored as they are and shown in listings; the secret
is a :class:`pydantic.SecretStr`, so it never shows in a repr, a log or an error.
"""

from __future__ import annotations

import enum
import json
import re
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from ratchet._contract.cel import CelError, compile_cel

from ._verify import svix_key

__all__ = [
    "MAX_STATIC_PAYLOAD_BYTES",
    "NAME_PATTERN",
    "WebhookDefinition",
    "WebhookKind",
    "WebhookSettings",
]

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
"""A webhook's name: it is a path segment of its URL, so letters, digits, ``.``, ``_`` and ``-``."""
MAX_STATIC_PAYLOAD_BYTES = 64 * 1024
MAX_SECRET_LENGTH = 1024
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}")  # an HTTP field name (a token)


class WebhookKind(enum.StrEnum):
    """How a webhook verifies its requests (see :mod:`._verify`)."""

    HMAC = "hmac"
    STRIPE = "stripe"
    SLACK = "slack"
    GITHUB = "github"
    SVIX = "svix"
    BASIC = "basic"
    API_KEY = "api_key"


# The settings each kind takes besides the CEL expressions and the static payload.
_KIND_FIELDS: dict[WebhookKind, frozenset[str]] = {
    WebhookKind.HMAC: frozenset({"header", "algorithm", "encoding", "prefix"}),
    WebhookKind.API_KEY: frozenset({"header"}),
    WebhookKind.BASIC: frozenset({"username"}),
}
_OPTIONAL_FIELDS = frozenset({"header", "algorithm", "encoding", "prefix", "username"})


class WebhookSettings(BaseModel):
    """A webhook's settings: everything but its name and secret.

    Attributes:
        kind: how requests are verified.
        event_key_expression: CEL over ``input`` and ``headers`` giving the event key.
        scope_expression: CEL giving the event's scope (a string, or null for none).
        static_payload: a JSON object merged over the body (its keys win); the body must
            then be a JSON object too.
        header: ``hmac``: the header holding the signature; ``api_key``: the header holding the key.
        algorithm: ``hmac``: ``sha1``, ``sha256`` (default) or ``sha512``.
        encoding: ``hmac``: ``hex`` (default), ``base64`` or ``base64url``.
        prefix: ``hmac``: text before the signature, e.g. ``sha256=`` (default none).
        username: ``basic``: the user name the sender gives (the secret is the password).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: WebhookKind
    event_key_expression: str = Field(min_length=1, max_length=4096)
    scope_expression: str | None = Field(default=None, min_length=1, max_length=4096)
    static_payload: dict[str, Any] | None = None
    header: str | None = None
    algorithm: Literal["sha1", "sha256", "sha512"] = "sha256"
    encoding: Literal["hex", "base64", "base64url"] = "hex"
    prefix: str = Field(default="", max_length=100)
    username: str | None = Field(default=None, min_length=1, max_length=200)

    @field_validator("event_key_expression", "scope_expression")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                compile_cel(value)
            except CelError as exc:
                raise ValueError(str(exc)) from None
        return value

    @field_validator("static_payload")
    @classmethod
    def _json_object(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return None
        try:
            size = len(json.dumps(value, allow_nan=False, separators=(",", ":")).encode("utf-8"))
        except (TypeError, ValueError, RecursionError):
            raise ValueError("the static payload must be a JSON object (no NaN, no infinities)") from None
        if size > MAX_STATIC_PAYLOAD_BYTES:
            raise ValueError(
                f"the static payload is {size} bytes of JSON; the limit is {MAX_STATIC_PAYLOAD_BYTES}"
            )
        return value

    @field_validator("header")
    @classmethod
    def _header_name(cls, value: str | None) -> str | None:
        if value is not None and not _HEADER_NAME.fullmatch(value):
            raise ValueError("a header name is 1 to 100 letters, digits and !#$%&'*+.^_`|~- (no spaces)")
        return value

    @field_validator("prefix")
    @classmethod
    def _printable_prefix(cls, value: str) -> str:
        if not value.isascii() or not value.isprintable():
            raise ValueError("the prefix must be printable ASCII")
        return value

    @field_validator("username")
    @classmethod
    def _username(cls, value: str | None) -> str | None:
        if value is not None and (":" in value or not value.isprintable()):
            raise ValueError("a basic-auth user name is printable and has no ':'")
        return value

    @model_validator(mode="after")
    def _fits_kind(self) -> Self:
        allowed = _KIND_FIELDS.get(self.kind, frozenset())
        stray = sorted((self.model_fields_set & _OPTIONAL_FIELDS) - allowed)
        if stray:
            raise ValueError(f"a {self.kind} webhook takes no {', '.join(stray)}")
        if self.kind in (WebhookKind.HMAC, WebhookKind.API_KEY) and self.header is None:
            raise ValueError(f"a {self.kind} webhook needs a header (the one the sender writes to)")
        if self.kind is WebhookKind.BASIC and self.username is None:
            raise ValueError("a basic webhook needs a username")
        return self

    def view(self) -> dict[str, Any]:
        """The settings that apply to this kind (kind included), as JSON values: what listings show."""
        dumped = self.model_dump(mode="json", exclude={"name", "secret"}, exclude_none=True)
        allowed = _KIND_FIELDS.get(self.kind, frozenset())
        return {k: v for k, v in dumped.items() if k not in _OPTIONAL_FIELDS or k in allowed}

    def stored(self) -> dict[str, Any]:
        """The settings as the store keeps them: :meth:`view` without the kind (it has a column)."""
        return {k: v for k, v in self.view().items() if k != "kind"}

    @classmethod
    def from_stored(cls, kind: str, stored: Any) -> WebhookSettings:
        """The settings :meth:`stored` gave, read back.

        Raises:
            pydantic.ValidationError: the stored settings are not valid any more.
        """
        return WebhookSettings.model_validate({**(stored if isinstance(stored, dict) else {}), "kind": kind})


class WebhookDefinition(WebhookSettings):
    """A webhook as its owner defines it: a name, a secret, and its :class:`WebhookSettings`.

    Attributes:
        name: unique in its tenant; the webhook's URL is
            ``/api/v1/tenants/{tenant}/webhooks/{name}``.
        secret: the shared secret (``hmac``, ``stripe``, ``slack``, ``github``), the Svix
            secret ``whsec_...`` (``svix``), the password (``basic``) or the key (``api_key``).
    """

    name: str = Field(pattern=NAME_PATTERN)
    secret: SecretStr = Field(min_length=1, max_length=MAX_SECRET_LENGTH)

    @model_validator(mode="after")
    def _secret_fits_kind(self) -> Self:
        secret = self.secret.get_secret_value()
        if self.kind is WebhookKind.SVIX:
            svix_key(secret)  # its ValueError does not repeat the secret
        elif self.kind in (WebhookKind.BASIC, WebhookKind.API_KEY) and not secret.isprintable():
            raise ValueError(f"the secret of a {self.kind} webhook travels in a header: it must be printable")
        return self
