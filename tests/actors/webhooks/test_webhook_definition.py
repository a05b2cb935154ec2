"""Webhook definitions: what each kind needs; garbage refused with an error that never shows the secret."""

from __future__ import annotations

import pytest
from webhook_signing import SVIX_SECRET

from ratchet._contract.protocol import RequestError, parse
from ratchet.actors.webhooks import WebhookDefinition, WebhookKind, WebhookSettings

SECRET = "top-secret-do-not-print"


def definition(**kw):
    kw.setdefault("name", "orders")
    kw.setdefault("kind", "github")
    kw.setdefault("secret", SECRET)
    kw.setdefault("event_key_expression", "'github:' + headers['x-github-event']")
    return kw


def refusal(raw) -> str:
    with pytest.raises(RequestError) as info:
        parse(WebhookDefinition, raw, "webhook definition")
    message = str(info.value)
    assert SECRET not in message
    return message


def test_each_kind_takes_its_own_settings() -> None:
    hmac = parse(
        WebhookDefinition,
        definition(
            kind="hmac", header="X-Signature", algorithm="sha512", encoding="base64", prefix="sha512="
        ),
        "d",
    )
    assert (hmac.kind, hmac.header, hmac.algorithm, hmac.encoding, hmac.prefix) == (
        WebhookKind.HMAC,
        "X-Signature",
        "sha512",
        "base64",
        "sha512=",
    )
    assert parse(WebhookDefinition, definition(kind="api_key", header="X-Api-Key"), "d").header == "X-Api-Key"
    assert parse(WebhookDefinition, definition(kind="basic", username="shop"), "d").username == "shop"
    svix = parse(WebhookDefinition, definition(kind="svix", secret=SVIX_SECRET), "d")
    assert svix.secret.get_secret_value() == SVIX_SECRET


def test_hmac_defaults_to_hex_sha256_without_prefix() -> None:
    d = parse(WebhookDefinition, definition(kind="hmac", header="X-Sig"), "d")
    assert (d.algorithm, d.encoding, d.prefix) == ("sha256", "hex", "")


def test_the_secret_never_shows_in_a_repr_or_a_view() -> None:
    d = parse(WebhookDefinition, definition(static_payload={"source": "gh"}), "d")
    assert SECRET not in repr(d) and SECRET not in str(d)
    view = d.view()
    assert view == {
        "kind": "github",
        "event_key_expression": "'github:' + headers['x-github-event']",
        "static_payload": {"source": "gh"},
    }
    assert SECRET not in repr(view)


def test_stored_settings_read_back_to_the_same_settings() -> None:
    d = parse(WebhookDefinition, definition(kind="hmac", header="X-Sig", scope_expression="input.shop"), "d")
    again = WebhookSettings.from_stored("hmac", d.stored())
    assert again.view() == d.view()
    assert "kind" not in d.stored() and "secret" not in d.stored() and "name" not in d.stored()


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("not a mapping", "expected a mapping"),
        (definition(name="has space"), "name"),
        (definition(name="../etc"), "name"),
        (definition(name=""), "name"),
        (definition(name="x" * 101), "name"),
        (definition(kind="carrier-pigeon"), "kind"),
        (definition(secret=""), "secret"),
        (definition(secret="x" * 1025), "secret"),
        (definition(secret=12345), "secret"),
        (definition(event_key_expression=""), "event_key_expression"),
        (definition(event_key_expression="input.("), "bad CEL expression"),
        (definition(scope_expression="1 +"), "bad CEL expression"),
        (definition(static_payload=[1, 2]), "static_payload"),
        (definition(static_payload={"x": float("nan")}), "JSON object"),
        (definition(static_payload={"x": "y" * 70_000}), "limit is 65536"),
        (definition(unknown_field=1), "unknown_field"),
        (definition(kind="hmac"), "needs a header"),
        (definition(kind="hmac", header="X Sig"), "header name"),
        (definition(kind="hmac", header="X-Sig", algorithm="md5"), "algorithm"),
        (definition(kind="hmac", header="X-Sig", encoding="base32"), "encoding"),
        (definition(kind="hmac", header="X-Sig", prefix="\n"), "printable ASCII"),
        (definition(kind="api_key"), "needs a header"),
        (definition(kind="api_key", header="X-Key", secret="line\nbreak"), "must be printable"),
        (definition(kind="basic"), "needs a username"),
        (definition(kind="basic", username="a:b"), "no ':'"),
        (definition(kind="svix", secret="not base64!"), "whsec_"),
        (definition(kind="stripe", header="X-Sig"), "a stripe webhook takes no header"),
        (
            definition(kind="github", username="u", algorithm="sha1"),
            "a github webhook takes no algorithm, username",
        ),
    ],
)
def test_a_bad_definition_is_refused_with_what_is_wrong(raw, problem: str) -> None:
    assert problem in refusal(raw)
