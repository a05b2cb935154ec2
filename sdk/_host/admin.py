"""``ratchet tokens`` and ``ratchet tenants``: asking an engine's authority over the wire.

Each command signs in with the caller's token (``--token``, ``RATCHET_TOKEN``, else the
local admin token an engine on this machine wrote) and makes one call to the engine's
authority, which checks the token's role.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ask_authority"]


async def ask_authority(engine: str, token: str | None, method: str, *args: Any) -> Any:
    """Sign in to the engine at ``engine`` and ask its authority ``method(*args)``.

    Raises:
        AuthenticationError, PermissionDeniedError: the engine refused the token or the call.
        ConnectionError: the engine could not be reached.
    """
    from ratchet.runtime import ActorDeadError, ActorError, open_runtime
    from ratchet.transport import open_actor_node, open_nng_network

    from .._client import Settings
    from .._contract.calls import AUTHORITY_ACTOR
    from .._session import sign_in, signin_error

    tls = Settings.from_env(engine=engine).dialer_tls()  # RATCHET_TLS_*, checked before dialing
    async with open_runtime() as system:
        async with open_nng_network(clock=system.runtime.clock, random=system.runtime.random) as network:
            endpoint = await network.dial(engine, name=f"cli-{system.runtime.random.token_hex(6)}", tls=tls)
            async with open_actor_node(system, endpoint) as node:
                try:
                    await sign_in(node, engine, token)
                    return (
                        await getattr(node.ref(engine, AUTHORITY_ACTOR), method)
                        .options(timeout=30.0)
                        .ask(*args)
                    )
                except ActorDeadError:
                    raise ConnectionError(
                        f"could not reach the Ratchet engine at {engine}; is it running (ratchet engine "
                        f"--listen {engine}), and does RATCHET_ENGINE (or --engine) name its address?"
                    ) from None
                except ActorError as exc:
                    raise signin_error(exc) from None
