"""The engine's nng door: sign-in first, then only what the token's tenant and role allow.

An engine serves its node to peers over the simulated network (the same node code as
over nng). Each test signs a peer in (or not) and checks what the guard lets through;
a refused call runs nothing, says why, and is counted.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
import trio

from ratchet import AuthenticationError
from ratchet._contract.calls import Method
from ratchet._declare.workflow import Workflow
from ratchet._session import sign_in
from ratchet.actors import Engine, EngineOptions, open_engine
from ratchet.actors.auth import Role
from ratchet.actors.auth._roles import METHOD_ROLES
from ratchet.actors.store import MemoryStore, open_store
from ratchet.runtime import ActorError, open_runtime
from ratchet.transport import ActorNode, open_actor_node, open_sim_network

ENGINE = "sim://engine"


@dataclass
class Door:
    engine: Engine
    node: ActorNode  # the engine's
    network: Any

    @asynccontextmanager
    async def peer(self, token: str | None = None) -> AsyncIterator[ActorNode]:
        """A peer dialed in, signed in with ``token`` when one is given."""
        async with open_runtime(seed=11) as system:
            endpoint = await self.network.dial(ENGINE, name=f"peer-{id(system)}")
            async with open_actor_node(system, endpoint) as node:
                if token is not None:
                    await sign_in(node, ENGINE, token)
                yield node

    async def runs(self, tenant: str = "default") -> list[Any]:
        return await self.engine.store.list_runs(tenant, limit=None)


@asynccontextmanager
async def door(seed: int = 5) -> AsyncIterator[Door]:
    async with (
        open_sim_network(seed=3) as network,
        open_store(MemoryStore()) as store,
        open_runtime(seed=seed) as system,  # the engine's key is drawn from its seed
    ):
        listener = await network.listen(ENGINE, name="engine")
        async with (
            open_actor_node(system, listener) as node,
            open_engine(system, store, EngineOptions(), node=node) as engine,
        ):
            yield Door(engine, node, network)


def workflow_spec(name: str = "wf") -> dict[str, Any]:
    wf = Workflow(None, name)

    @wf.task()
    def step(input: Any, ctx: Any) -> None:
        return None

    return wf.spec.to_dict()


async def gateway_call(node: ActorNode, method: str, *args: Any) -> Any:
    return await getattr(node.ref(ENGINE, "gateway"), method).options(timeout=30).ask(*args)


async def test_a_peer_that_never_signed_in_is_refused_and_nothing_runs(autojump_clock: Any) -> None:
    async with door() as d, d.peer() as node:
        with pytest.raises(ActorError) as info:
            await gateway_call(node, "trigger", [{"workflow": "wf", "input": {}}])
        assert info.value.error_type == "ratchet.AuthenticationError"
        assert "has not signed in" in info.value.error_message
        assert await d.runs() == []
        assert d.node.statistics().calls_refused == 1


@pytest.mark.parametrize(
    "token, reason",
    [("", "no API token"), ("x", "malformed"), ("a.b.c", "malformed"), ("é" * 5000, "malformed")],
)
async def test_sign_in_with_a_bad_token_is_refused_with_its_reason(
    autojump_clock: Any, token: str, reason: str
) -> None:
    async with door() as d, d.peer() as node:
        with pytest.raises(AuthenticationError, match=reason):
            await sign_in(node, ENGINE, token)
        assert node.credential == ""


async def test_a_token_signed_by_another_engine_is_refused(autojump_clock: Any) -> None:
    async with door(seed=5) as a, door(seed=6) as b:
        foreign = await b.engine.issue_token("elsewhere")
        async with a.peer() as node:
            with pytest.raises(AuthenticationError, match="signature does not match"):
                await sign_in(node, ENGINE, foreign)


async def test_a_revoked_token_stops_at_once_even_for_a_peer_signed_in_with_it(autojump_clock: Any) -> None:
    async with door() as d:
        token = await d.engine.issue_token("ci", Role.MEMBER)
        async with d.peer(token) as node:
            assert await gateway_call(node, "list_runs") == []
            token_id = (await d.engine.book.from_token(token)).token_id
            admin = await d.engine.book.principal("default", token_id)
            assert admin.role is Role.MEMBER
            home_admin = await d.engine.book.from_token(await d.engine.issue_token("root"))
            assert await d.engine.authority.revoke_token.ask(token_id, principal=home_admin) is True
            with pytest.raises(ActorError, match="revoked"):
                await gateway_call(node, "list_runs")


async def test_an_expired_token_is_refused_by_the_engine_clock(autojump_clock: Any) -> None:
    async with door() as d:
        issued = await d.engine.authority.issue_token.ask("default", "short", Role.MEMBER, 60.0)
        async with d.peer(issued["token"]) as node:
            assert await gateway_call(node, "list_runs") == []
            await trio.sleep(61)
            with pytest.raises(ActorError, match="expired"):
                await gateway_call(node, "list_runs")


@pytest.mark.parametrize("method", sorted(m for m, role in METHOD_ROLES.items() if role is not Role.VIEWER))
async def test_a_viewer_is_refused_every_write_before_it_is_looked_at(
    autojump_clock: Any, method: str
) -> None:
    async with door() as d:
        viewer = await d.engine.issue_token("dash", Role.VIEWER)
        async with d.peer(viewer) as node:
            with pytest.raises(ActorError) as info:
                await gateway_call(node, method, {"garbage": True})
            assert info.value.error_type == "ratchet.PermissionDeniedError"
            assert f"a viewer token may not call {method}" in info.value.error_message
        assert await d.runs() == []


async def test_only_the_gateway_and_the_authority_are_served_and_only_with_positional_arguments(
    autojump_clock: Any,
) -> None:
    async with door() as d:
        token = await d.engine.issue_token("root")
        async with d.peer(token) as node:
            for actor in ("coordinator", "store-writer", "scheduler", "tenants", "gateway@other"):
                with pytest.raises(ActorError, match="not served"):
                    await node.ref(ENGINE, actor).statistics.options(timeout=30).ask()
            with pytest.raises(ActorError, match="no method"):
                await gateway_call(node, "drop_everything")
            with pytest.raises(ActorError, match="positional"):
                await node.ref(ENGINE, "gateway").list_runs.options(timeout=30).ask(filters={})
            with pytest.raises(ActorError, match="not served"):
                await node.ref(ENGINE, "auth").issue_token.options(timeout=30).ask("default", "x", "admin")


async def test_two_tenants_through_one_door_see_only_their_own(autojump_clock: Any) -> None:
    async with door() as d:
        root = await d.engine.book.from_token(await d.engine.issue_token("root"))
        made = await d.engine.authority.create_tenant.ask({"name": "beta"}, principal=root)
        beta_token = made["admin_token"]["token"]
        async with d.peer(await d.engine.issue_token("a", Role.MEMBER)) as a, d.peer(beta_token) as b:
            await gateway_call(a, Method.REGISTER_WORKFLOWS, [workflow_spec("orders")])
            (created,) = await gateway_call(a, Method.TRIGGER, [{"workflow": "orders", "input": {}}])
            run_id = created["run_id"]
            assert await gateway_call(b, Method.GET_RUN, run_id) is None
            assert await gateway_call(b, Method.LIST_RUNS) == []
            assert await gateway_call(b, Method.LIST_WORKFLOWS) == []
            assert await gateway_call(b, Method.CANCEL_RUNS, [run_id]) == 0
            (refused,) = await gateway_call(b, Method.TRIGGER, [{"workflow": "orders", "input": {}}])
            assert "run_id" not in refused
            assert [r.id for r in await d.runs("default")] == [run_id]
            assert await d.runs("beta") == []
            # the authority answers each for its own tenant
            assert [t["id"] for t in await b.ref(ENGINE, "auth").list_tenants.options(timeout=30).ask()] == [
                "beta"
            ]
            with pytest.raises(ActorError) as info:
                await b.ref(ENGINE, "auth").create_tenant.options(timeout=30).ask({"name": "gamma"})
            assert info.value.error_type == "ratchet.PermissionDeniedError"
            tokens = await b.ref(ENGINE, "auth").list_tokens.options(timeout=30).ask()
            assert {t["tenant_id"] for t in tokens} == {"beta"}


@pytest.mark.parametrize(
    "request_, reason",
    [
        ({"name": "x", "role": "god"}, "role"),
        ({"name": "", "role": "viewer"}, "name"),
        ({"name": "x", "expires_in": -5}, "expires_in"),
        ({"name": "x", "expires_in": float("nan")}, "expires_in"),
        ({"name": "x", "owner": "me"}, "unknown fields"),
        (["x"], "must be a map"),
    ],
)
async def test_a_bad_token_request_is_refused_and_makes_nothing(
    autojump_clock: Any, request_: Any, reason: str
) -> None:
    async with door() as d:
        root = await d.engine.book.from_token(await d.engine.issue_token("root"))
        before = await d.engine.store.list_api_tokens("default")
        with pytest.raises(ActorError, match=reason):
            await d.engine.authority.create_token.ask(request_, principal=root)
        assert await d.engine.store.list_api_tokens("default") == before


@pytest.mark.parametrize("name", ["", "UPPER", "has space", "-dash-first", "x" * 64, "a/b", 42, None])
async def test_a_bad_tenant_name_is_refused_and_makes_nothing(autojump_clock: Any, name: Any) -> None:
    async with door() as d:
        root = await d.engine.book.from_token(await d.engine.issue_token("root"))
        with pytest.raises(ActorError, match="tenant name"):
            await d.engine.authority.create_tenant.ask({"name": name}, principal=root)
        assert [t.id for t in await d.engine.store.list_tenants()] == ["default"]


async def test_a_worker_cannot_register_another_connection_as_its_own(autojump_clock: Any) -> None:
    async with door() as d:
        token = await d.engine.issue_token("w", Role.MEMBER)
        async with d.peer(token) as node:
            request = {
                "worker_id": "w1",
                "name": "w",
                "actor": "worker:w",
                "peer": "someone-elses-connection",
                "slots": 1,
                "durable_slots": 1,
                "labels": {},
                "workflows": [workflow_spec()],
                "running": [],
            }
            with pytest.raises(ActorError, match="registers from its own connection"):
                await gateway_call(node, Method.REGISTER_WORKER, request)
            assert await gateway_call(node, Method.LIST_WORKERS) == []
