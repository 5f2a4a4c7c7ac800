"""Time-based one-time passwords (RFC 6238, the codes of authenticator apps): the second factor."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
import time
from typing import Final
from urllib.parse import quote

__all__ = ["TOTP_DIGITS", "TOTP_STEP_S", "new_secret", "provisioning_uri", "totp", "verify_totp"]

TOTP_STEP_S: Final = 30
"""Each code lives 30 s, as every authenticator app assumes."""
TOTP_DIGITS: Final = 6
TOTP_WINDOW: Final = 1
"""Codes of one step before or after are accepted too: a phone's clock may be 30 s off."""


def new_secret() -> str:
    """A fresh 160-bit secret, base32 as authenticator apps expect it."""
    return base64.b32encode(secrets.token_bytes(20)).decode("ascii")


def _key(secret: str) -> bytes:
    cleaned = secret.replace(" ", "").upper()
    return base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))


def totp(secret: str, at: float | None = None, *, digits: int = TOTP_DIGITS) -> str:
    """The code of ``secret`` at POSIX time ``at`` (default: now), HMAC-SHA1 as in RFC 6238."""
    counter = int((time.time() if at is None else at) // TOTP_STEP_S)
    digest = hmac.new(_key(secret), struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


def verify_totp(secret: str, code: str, at: float | None = None) -> bool:
    """Whether ``code`` is the code of ``secret`` now, give or take one step."""
    now = time.time() if at is None else at
    code = code.strip().replace(" ", "")
    if not code.isdigit():
        return False
    return any(
        hmac.compare_digest(totp(secret, now + step * TOTP_STEP_S, digits=len(code)), code)
        for step in range(-TOTP_WINDOW, TOTP_WINDOW + 1)
    )


def provisioning_uri(secret: str, account: str, issuer: str = "cityhub") -> str:
    """The ``otpauth://`` URI an authenticator app reads (shown once, as a QR code or text)."""
    label = quote(f"{issuer}:{account}")
    return f"otpauth://totp/{label}?secret={secret}&issuer={quote(issuer)}&digits={TOTP_DIGITS}"
