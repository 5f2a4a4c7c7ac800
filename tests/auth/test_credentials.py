"""Passwords (argon2id, rules) and the second factor (RFC 6238 test vectors)."""

from __future__ import annotations

import pytest

from cityhub.auth.passwords import (
    WeakPasswordError,
    check_password_rules,
    generate_password,
    hash_password,
    needs_rehash,
    verify_password,
)
from cityhub.auth.totp import new_secret, provisioning_uri, totp, verify_totp


def test_argon2id_hashes_verify_and_differ_per_salt() -> None:
    first, second = hash_password("correct horse battery"), hash_password("correct horse battery")
    assert first.startswith("$argon2id$")
    assert first != second
    assert verify_password(first, "correct horse battery")
    assert not verify_password(first, "correct horse batterz")
    assert not verify_password("not a hash", "correct horse battery")
    assert not needs_rehash(first)


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("short1A!", "at least 12"),
        ("xx-j.martin-2026", "account name"),
        ("aaaaaaaaabbbbbbbb", "repeat"),
    ],
)
def test_weak_passwords_are_refused_with_the_rule(password: str, why: str) -> None:
    with pytest.raises(WeakPasswordError, match=why):
        check_password_rules(password, "j.martin")


def test_generated_passwords_pass_the_rules() -> None:
    password = generate_password()
    check_password_rules(password, "admin")
    assert len(password) == 20
    assert password != generate_password()


# RFC 6238 appendix B, SHA-1: the secret is ASCII "12345678901234567890", 8 digits.
_RFC_SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"


@pytest.mark.parametrize(
    ("at", "code"),
    [
        (59, "94287082"),
        (1111111109, "07081804"),
        (1111111111, "14050471"),
        (1234567890, "89005924"),
        (2000000000, "69279037"),
        (20000000000, "65353130"),
    ],
)
def test_totp_matches_the_rfc_vectors(at: int, code: str) -> None:
    assert totp(_RFC_SECRET, at, digits=8) == code


def test_totp_accepts_one_step_of_clock_skew_and_no_more() -> None:
    secret = new_secret()
    now = 1_800_000_000.0
    assert verify_totp(secret, totp(secret, now), now)
    assert verify_totp(secret, totp(secret, now - 30), now)
    assert verify_totp(secret, totp(secret, now + 30), now)
    assert not verify_totp(secret, totp(secret, now - 90), now)
    assert not verify_totp(secret, "12a456", now)
    assert not verify_totp(secret, "", now)
    uri = provisioning_uri(secret, "j.martin")
    assert uri.startswith("otpauth://totp/cityhub%3Aj.martin?secret=")
    assert secret in uri
