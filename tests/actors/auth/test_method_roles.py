"""Every gateway method has a least role, and roles nest."""

from __future__ import annotations

import pytest

from ratchet._contract.calls import Method
from ratchet._errors import PermissionDeniedError
from ratchet.actors.auth import Principal, Role
from ratchet.actors.auth._roles import METHOD_ROLES, role_for


def test_every_gateway_method_names_the_least_role_that_may_call_it() -> None:
    assert set(METHOD_ROLES) == set(Method)


def test_reads_are_open_to_viewers_and_writes_are_not() -> None:
    assert role_for(Method.LIST_RUNS) is Role.VIEWER
    assert role_for(Method.TRIGGER) is Role.MEMBER
    assert role_for("drop_tables") is None


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("needed", list(Role))
def test_roles_nest(role: Role, needed: Role) -> None:
    principal = Principal("acme", role, "tok")
    order = [Role.VIEWER, Role.MEMBER, Role.ADMIN]
    if order.index(role) >= order.index(needed):
        principal.require(needed, "do it")
    else:
        with pytest.raises(PermissionDeniedError, match=f"a {role} token may not do it") as info:
            principal.require(needed, "do it")
        assert (info.value.role, info.value.needed) == (role, needed)
