"""Signing in to an engine over the wire, and where a local API token is found.

An engine reached over nng serves nothing but sign-in until a peer presents an API token
(see ``ratchet.actors.auth``). :func:`sign_in` asks the engine's authority for a session
credential and stamps it on the node's outgoing calls.

The token comes from ``Ratchet(token=...)`` or ``RATCHET_TOKEN``; failing both, from the
file an engine on this machine wrote on its first start (:func:`local_token_path`):
``$RATCHET_HOME/tokens/<address>.token`` (``RATCHET_HOME`` defaults to ``~/.ratchet``),
readable only by its owner. So local development needs no set-up, while other users of
the machine cannot use the engine.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import trio

from ratchet.runtime import ActorDeadError

from ._contract.calls import AUTHORITY_ACTOR, ErrorCode, error_code
from ._errors import AuthenticationError, PermissionDeniedError

__all__ = ["local_token_path", "ratchet_home", "read_local_token", "sign_in", "signin_error"]


def ratchet_home(env: dict[str, str] | None = None) -> Path:
    """``RATCHET_HOME``, else ``~/.ratchet``: where local tokens and keys live."""
    env = dict(os.environ) if env is None else env
    home = env.get("RATCHET_HOME")
    return Path(home).expanduser() if home else Path.home() / ".ratchet"


def local_token_path(engine: str, env: dict[str, str] | None = None) -> Path:
    """The file an engine listening at ``engine`` writes its local admin token to."""
    slug = re.sub(r"[^A-Za-z0-9.-]+", "_", engine).strip("_") or "engine"
    return ratchet_home(env) / "tokens" / f"{slug}.token"


def read_local_token(engine: str, env: dict[str, str] | None = None) -> str | None:
    """The local token for ``engine``, or None when there is none (or it cannot be read)."""
    try:
        token = local_token_path(engine, env).read_text().strip()
    except OSError:
        return None
    return token or None


def no_token_error(engine: str) -> AuthenticationError:
    return AuthenticationError(
        f"no API token for the engine at {engine}: set RATCHET_TOKEN (or Ratchet(token=...)); "
        f"an engine on this machine writes one for its owner to {local_token_path(engine)} on its "
        "first start, and 'ratchet tokens create' makes more"
    )


async def sign_in(node: Any, engine: str, token: str | None, *, tenant: str | None = None) -> str:
    """Sign ``node`` in to the engine at ``engine``; the tenant the token belongs to.

    Without a ``token``, the local one (:func:`read_local_token`) is read when the engine
    is reachable, so a worker started before its engine finds the token the engine writes.

    Raises:
        AuthenticationError: no token, or the engine refused it (the message says why).
        PermissionDeniedError: ``tenant`` was named and the token belongs to another.
    """
    authority = node.ref(engine, AUTHORITY_ACTOR)
    if token is None:
        with trio.move_on_after(node.connect_timeout):
            await authority.wait_reachable()
        token = read_local_token(engine)
        if token is None:
            if not node.endpoint.is_up(engine):
                # retried by the caller like any call to an engine out of reach
                raise ActorDeadError(f"cannot sign in: the engine at {engine} is not reachable")
            raise no_token_error(engine)
    try:
        answer = await authority.open_session.options(timeout=30.0).ask(token)
    except Exception as exc:
        raise signin_error(exc) from None
    if tenant is not None and answer["tenant_id"] != tenant:
        raise PermissionDeniedError(
            f"the API token belongs to tenant {answer['tenant_id']!r}, not {tenant!r} (RATCHET_TENANT); "
            "use a token of that tenant, or leave the tenant unset"
        )
    node.credential = answer["credential"]
    tenant_id: str = answer["tenant_id"]
    return tenant_id


def signin_error(exc: BaseException) -> BaseException:
    """An engine's refusal as the exception the user catches; other errors unchanged."""
    code = error_code(getattr(exc, "error_type", ""))
    if code is ErrorCode.UNAUTHENTICATED:
        return AuthenticationError(getattr(exc, "error_message", str(exc)))
    if code is ErrorCode.FORBIDDEN:
        return PermissionDeniedError(getattr(exc, "error_message", str(exc)))
    return exc
