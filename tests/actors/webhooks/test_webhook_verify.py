"""The verifiers, provider by provider: a request signed as the provider documents passes, and
every attack (wrong signature, stale or future timestamp, missing or malformed header) is refused
with a reason that names the check and leaks no secret."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st
from webhook_signing import (
    GITHUB_SECRET,
    SLACK_SECRET,
    STRIPE_SECRET,
    SVIX_SECRET,
    basic_header,
    github_headers,
    hmac_signature,
    slack_headers,
    stripe_headers,
    svix_headers,
)

from ratchet.actors.webhooks import WebhookRejected
from ratchet.actors.webhooks._verify import (
    Verified,
    header_map,
    svix_key,
    verify_api_key,
    verify_basic,
    verify_github,
    verify_hmac,
    verify_slack,
    verify_stripe,
    verify_svix,
)

NOW = 1_700_000_000
BODY = b'{"type": "invoice.paid", "id": "evt_1"}'


def refused(fn, *args, **kw) -> str:
    with pytest.raises(WebhookRejected) as info:
        fn(*args, **kw)
    return info.value.reason


def flip(body: bytes) -> bytes:
    return body[:-1] + bytes([body[-1] ^ 1])


# -- Stripe ------------------------------------------------------------------------------------


def test_stripe_accepts_a_request_signed_as_stripe_documents() -> None:
    assert verify_stripe(STRIPE_SECRET, stripe_headers(BODY, NOW), BODY, NOW + 599) == Verified()


def test_stripe_accepts_any_v1_while_a_secret_rolls_over() -> None:
    good = stripe_headers(BODY, NOW)["Stripe-Signature"].split("v1=")[1]
    header = {"stripe-signature": f"t={NOW},v1={'0' * 64},v0=abc,v1={good}"}
    assert verify_stripe(STRIPE_SECRET, header, BODY, NOW) == Verified()


@pytest.mark.parametrize(
    ("headers", "body", "now", "reason"),
    [
        (stripe_headers(BODY, NOW, "whsec_other"), BODY, NOW, "signature does not match"),
        (stripe_headers(BODY, NOW), flip(BODY), NOW, "signature does not match"),
        (stripe_headers(BODY, NOW - 601), BODY, NOW, "more than 600 seconds"),
        (stripe_headers(BODY, NOW + 601), BODY, NOW, "more than 600 seconds"),
        ({}, BODY, NOW, "Stripe-Signature header is missing"),
        ({"Stripe-Signature": f"t={NOW}"}, BODY, NOW, "no v1= signature"),
        ({"Stripe-Signature": "v1=00"}, BODY, NOW, "no t= timestamp"),
        ({"Stripe-Signature": "t=yesterday,v1=00"}, BODY, NOW, "not a Unix time"),
        ({"Stripe-Signature": "t=١٢٣,v1=00"}, BODY, NOW, "not a Unix time"),  # non-ASCII digits
        ({"Stripe-Signature": f"t={NOW},v1=not-hex"}, BODY, NOW, "signature does not match"),
    ],
)
def test_stripe_refuses(headers, body, now, reason) -> None:
    assert reason in refused(verify_stripe, STRIPE_SECRET, headers, body, now)


def test_a_stripe_replay_outside_the_window_is_refused_even_with_its_valid_signature() -> None:
    headers = stripe_headers(BODY, NOW)
    verify_stripe(STRIPE_SECRET, headers, BODY, NOW + 10)
    assert "stale or replayed" in refused(verify_stripe, STRIPE_SECRET, headers, BODY, NOW + 3600)


# -- Slack -------------------------------------------------------------------------------------


def test_slack_accepts_a_request_signed_as_slack_documents() -> None:
    body = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&command=%2Fweather"
    assert verify_slack(SLACK_SECRET, slack_headers(body, NOW), body, NOW - 299) == Verified()


@pytest.mark.parametrize(
    ("headers", "body", "now", "reason"),
    [
        (slack_headers(BODY, NOW, "other"), BODY, NOW, "signature does not match"),
        (slack_headers(BODY, NOW), flip(BODY), NOW, "signature does not match"),
        (slack_headers(BODY, NOW - 301), BODY, NOW, "more than 300 seconds"),
        ({"X-Slack-Signature": "v0=00"}, BODY, NOW, "X-Slack-Request-Timestamp header is missing"),
        ({"X-Slack-Request-Timestamp": str(NOW)}, BODY, NOW, "X-Slack-Signature header is missing"),
        ({"X-Slack-Request-Timestamp": str(NOW), "X-Slack-Signature": "v1=00"}, BODY, NOW, "'v0='"),
    ],
)
def test_slack_refuses(headers, body, now, reason) -> None:
    assert reason in refused(verify_slack, SLACK_SECRET, headers, body, now)


# -- GitHub ------------------------------------------------------------------------------------


def test_github_accepts_the_example_of_its_documentation() -> None:
    # docs.github.com, "Validating webhook deliveries": secret "It's a Secret to Everybody",
    # payload "Hello, World!" gives this signature
    expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    headers = {"X-Hub-Signature-256": expected}
    assert github_headers(b"Hello, World!") == headers
    assert verify_github(GITHUB_SECRET, headers, b"Hello, World!", NOW) == Verified()


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        (github_headers(BODY, "another secret"), "signature does not match"),
        ({"X-Hub-Signature": "sha1=" + "0" * 40}, "X-Hub-Signature-256 header is missing"),
        ({"X-Hub-Signature-256": "sha1=abc"}, "does not start with 'sha256='"),
        ({"X-Hub-Signature-256": "sha256=zz"}, "is not hex"),
    ],
)
def test_github_refuses(headers, reason) -> None:
    assert reason in refused(verify_github, GITHUB_SECRET, headers, BODY, NOW)


# -- Svix --------------------------------------------------------------------------------------


def test_svix_accepts_a_request_signed_as_svix_documents_and_returns_its_delivery() -> None:
    headers = svix_headers(BODY, NOW, "msg_1")
    assert verify_svix(SVIX_SECRET, headers, BODY, NOW + 300) == Verified("msg_1", NOW + 300)
    # the whsec_ prefix is optional, as in Svix's libraries
    assert verify_svix(SVIX_SECRET.removeprefix("whsec_"), headers, BODY, NOW).delivery_id == "msg_1"


def test_svix_accepts_any_v1_among_several_signatures() -> None:
    headers = svix_headers(BODY, NOW)
    headers["svix-signature"] = "v1,AAAA v1a,xyz " + headers["svix-signature"]
    assert verify_svix(SVIX_SECRET, headers, BODY, NOW).delivery_id is not None


@pytest.mark.parametrize(
    ("change", "now", "reason"),
    [
        ({"svix-id": "msg_other"}, NOW, "signature does not match"),  # the id is signed
        ({"svix-timestamp": str(NOW + 1)}, NOW, "signature does not match"),  # so is the time
        ({}, NOW + 301, "more than 300 seconds"),
        ({}, NOW - 301, "more than 300 seconds"),
        ({"svix-id": ""}, NOW, "svix-id header is missing"),
        ({"svix-id": "msg 1"}, NOW, "svix-id header is not"),
        ({"svix-id": "m" * 201}, NOW, "svix-id header is not"),
        ({"svix-signature": "v2,abc"}, NOW, "no v1 signature"),
        ({"svix-timestamp": "1e9"}, NOW, "not a Unix time"),
    ],
)
def test_svix_refuses(change, now, reason) -> None:
    headers = {**svix_headers(BODY, NOW), **change}
    assert reason in refused(verify_svix, SVIX_SECRET, headers, BODY, now)


def test_a_svix_body_signed_with_another_key_is_refused() -> None:
    headers = svix_headers(BODY, NOW, key=b"x" * 32)
    assert "signature does not match" in refused(verify_svix, SVIX_SECRET, headers, BODY, NOW)


@pytest.mark.parametrize("secret", ["whsec_", "whsec_!!!", "whsec_abc", "plain words"])
def test_a_svix_secret_that_is_not_base64_is_refused_without_being_repeated(secret: str) -> None:
    with pytest.raises(ValueError) as info:
        svix_key(secret)
    assert str(info.value) == "a Svix secret is 'whsec_' followed by the base64 of its key"


# -- generic HMAC ------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["sha1", "sha256", "sha512"])
@pytest.mark.parametrize("encoding", ["hex", "base64", "base64url"])
def test_generic_hmac_accepts_every_algorithm_and_encoding(algorithm: str, encoding: str) -> None:
    signature = "sha256=" + hmac_signature("s3cret", BODY, algorithm, encoding)
    headers = {"X-Signature": signature}
    settings = {"header": "x-signature", "algorithm": algorithm, "encoding": encoding, "prefix": "sha256="}
    assert verify_hmac("s3cret", headers, BODY, NOW, **settings) == Verified()
    assert "signature does not match" in refused(verify_hmac, "other", headers, BODY, NOW, **settings)
    assert "does not start" in refused(
        verify_hmac, "s3cret", {"X-Signature": signature[7:]}, BODY, NOW, **settings
    )


@given(
    secret=st.text(min_size=1, max_size=40),
    body=st.binary(max_size=300),
    algorithm=st.sampled_from(["sha1", "sha256", "sha512"]),
    encoding=st.sampled_from(["hex", "base64", "base64url"]),
    data=st.data(),
)
def test_generic_hmac_accepts_exactly_the_bodies_it_signed(secret, body, algorithm, encoding, data) -> None:
    settings = {"header": "X-Sig", "algorithm": algorithm, "encoding": encoding}
    headers = {"x-sig": hmac_signature(secret, body, algorithm, encoding)}
    verify_hmac(secret, headers, body, NOW, **settings)
    other = data.draw(st.binary(max_size=300).filter(lambda b: b != body))
    refused(verify_hmac, secret, headers, other, NOW, **settings)


def test_hex_signatures_are_accepted_in_either_case() -> None:
    signature = hmac_signature("k", BODY, "sha256", "hex").upper()
    assert verify_hmac("k", {"X-Sig": signature}, BODY, NOW, header="X-Sig") == Verified()


def test_an_unknown_algorithm_is_the_definitions_fault_not_the_senders() -> None:
    with pytest.raises(ValueError, match="algorithm"):
        verify_hmac("k", {"X-Sig": "00"}, BODY, NOW, header="X-Sig", algorithm="md5")


# -- basic and API key -------------------------------------------------------------------------


def test_basic_auth_accepts_the_right_user_and_password_only() -> None:
    assert verify_basic("pa:ss", basic_header("hook", "pa:ss"), BODY, NOW, username="hook") == Verified()
    for headers in (basic_header("hook", "wrong"), basic_header("other", "pa:ss")):
        assert "credentials do not match" in refused(
            verify_basic, "pa:ss", headers, BODY, NOW, username="hook"
        )
    no_colon = {"Authorization": "Basic " + base64.b64encode(b"hookpa:ss").decode()}
    assert "do not match" in refused(verify_basic, "pa:ss", no_colon, BODY, NOW, username="hook")
    for value in ("Bearer abc", "Basic !!!", "Basic"):
        reason = refused(verify_basic, "pa:ss", {"Authorization": value}, BODY, NOW, username="hook")
        assert "does not hold basic credentials" in reason


def test_an_api_key_header_must_hold_the_key() -> None:
    assert verify_api_key("k-123", {"x-api-key": "k-123"}, BODY, NOW, header="X-Api-Key") == Verified()
    assert "does not match" in refused(
        verify_api_key, "k-123", {"X-API-KEY": "k-124"}, BODY, NOW, header="X-Api-Key"
    )
    assert "is missing" in refused(verify_api_key, "k-123", {}, BODY, NOW, header="X-Api-Key")


# -- what every refusal has in common ----------------------------------------------------------


def test_no_refusal_quotes_the_secret_or_the_expected_signature() -> None:
    secret = "very-secret-value"
    expected = hmac.new(secret.encode(), BODY, hashlib.sha256).hexdigest()
    attempts = [
        (verify_github, {"X-Hub-Signature-256": "sha256=" + "0" * 64}, {}),
        (verify_stripe, {"Stripe-Signature": f"t={NOW},v1={'0' * 64}"}, {}),
        (verify_slack, {"X-Slack-Request-Timestamp": str(NOW), "X-Slack-Signature": "v0=00"}, {}),
        (verify_api_key, {"X-Key": "guess"}, {"header": "X-Key"}),
        (verify_basic, basic_header("u", "guess"), {"username": "u"}),
    ]
    for fn, headers, settings in attempts:
        reason = refused(fn, secret, headers, BODY, NOW, **settings)
        assert secret not in reason and expected not in reason


def test_header_names_match_in_any_case_and_repeated_headers_are_joined() -> None:
    assert header_map({"X-Hub-Signature-256": "a"}) == {"x-hub-signature-256": "a"}
    assert header_map([("X-A", "1"), ("x-a", "2")]) == {"x-a": "1, 2"}
    upper = {k.upper(): v for k, v in github_headers(BODY).items()}
    assert verify_github(GITHUB_SECRET, upper, BODY, NOW) == Verified()
