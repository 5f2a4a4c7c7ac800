"""Password hashing with argon2id, and the rules a new password must follow."""

from __future__ import annotations

import secrets
import string
from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "WeakPasswordError",
    "check_password_rules",
    "generate_password",
    "hash_password",
    "needs_rehash",
    "verify_password",
]

MIN_PASSWORD_LENGTH: Final = 12
"""Shortest password accepted (characters): long passphrases beat complexity rules."""

_HASHER = PasswordHasher(time_cost=3, memory_cost=64 * 1024, parallelism=2)
"""argon2id with 64 MiB and 3 passes: about 0.1 s per check here, costly to guess offline."""

_ALPHABET = string.ascii_letters + string.digits


class WeakPasswordError(ValueError):
    """A new password breaks the rules; the message says which."""


def check_password_rules(password: str, user_name: str) -> None:
    """Raise :class:`WeakPasswordError` unless ``password`` is acceptable for ``user_name``."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPasswordError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if user_name.lower() in password.lower():
        raise WeakPasswordError("the password must not contain the account name")
    if len(set(password)) < 5:
        raise WeakPasswordError("the password must not repeat a few characters")


def hash_password(password: str) -> str:
    """The argon2id hash (PHC string) of ``password``; slow on purpose."""
    return _HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``password_hash`` (a malformed hash never matches)."""
    try:
        return _HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with weaker parameters than today's and should be renewed."""
    return _HASHER.check_needs_rehash(password_hash)


def generate_password(length: int = 20) -> str:
    """A random password of letters and digits, for a first login that must change it."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))
