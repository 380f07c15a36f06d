"""Webhook signatures: what the sender computes and what a receiver accepts."""

import hashlib
import hmac

import pytest

from matching.notify import sign, verify

pytestmark = pytest.mark.unit

SECRET = "whsec_test-secret-of-enough-length-for-a-test"
BODY = b'{"id":"0b6f6f1e-1111-4c4c-9999-123456789abc","type":"listing.matched"}'


def test_header_is_timestamp_and_hex_hmac_of_timestamp_dot_body():
    header = sign(SECRET, 1_760_000_000, BODY)
    expected = hmac.new(SECRET.encode(), b"1760000000." + BODY, hashlib.sha256).hexdigest()
    assert header == f"t=1760000000,v1={expected}"


def test_receiver_accepts_a_fresh_signature():
    assert verify(SECRET, sign(SECRET, 1_760_000_000, BODY), BODY, tolerance=300, now=1_760_000_100)


@pytest.mark.parametrize(
    ("secret", "body", "now"),
    [
        ("whsec_another-secret", BODY, 1_760_000_000),  # signed with another key
        (SECRET, BODY + b" ", 1_760_000_000),  # body changed after signing
        (SECRET, BODY, 1_760_000_301),  # replayed after the tolerance
        (SECRET, BODY, 1_759_999_699),  # dated too far in the future
    ],
)
def test_receiver_refuses_other_key_changed_body_and_replay(secret, body, now):
    assert not verify(secret, sign(SECRET, 1_760_000_000, BODY), body, tolerance=300, now=now)


def test_the_timestamp_is_part_of_what_is_signed():
    genuine = sign(SECRET, 1_760_000_000, BODY)
    moved = genuine.replace("t=1760000000", "t=1760000500")
    assert not verify(SECRET, moved, BODY, tolerance=300, now=1_760_000_500)


@pytest.mark.parametrize("header", ["", "v1=abc", "t=1760000000", "t=soon,v1=abc", "garbage"])
def test_malformed_headers_are_refused(header):
    assert not verify(SECRET, header, BODY, tolerance=300, now=1_760_000_000)


def test_any_of_several_signatures_may_match():
    good = sign(SECRET, 1_760_000_000, BODY).split(",")[1]
    header = f"t=1760000000,v1={'0' * 64},{good}"
    assert verify(SECRET, header, BODY, tolerance=300, now=1_760_000_000)
