"""The installation's Ed25519 key pair, which signs evidence packages.

The private key is made on first use in the data folder (``keys/export-signing-key.pem``,
PKCS#8 PEM, mode 0600 in a 0700 folder) and never leaves it, nor appears in a log line. The
public key travels in every package, with its fingerprint in the manifest, so anyone can
verify a package offline; the fingerprint is what a court compares with the one the town
declares.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = [
    "KEY_DIR",
    "KEY_FILE",
    "SigningKey",
    "SigningKeyError",
    "fingerprint",
    "load_public_key",
    "verify_signature",
]

KEY_DIR = "keys"
"""Folder of the data folder holding the installation's keys."""
KEY_FILE = "export-signing-key.pem"
"""The private signing key, PKCS#8 PEM, unencrypted: the hub signs unattended."""
KEY_FILE_MODE = 0o600
"""Owner read/write only: a key others can read could sign forged packages."""
KEY_DIR_MODE = 0o700
"""Owner only, so nobody else even lists the key folder."""


class SigningKeyError(Exception):
    """The signing key or a public key cannot be used; the message says which file and why."""


def fingerprint(public_key: Ed25519PublicKey) -> str:
    """SHA-256 (hex) of the key's DER SubjectPublicKeyInfo, as ``openssl pkey -outform DER``."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    """The Ed25519 public key in ``pem``; raise :class:`SigningKeyError` if it is not one."""
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError as err:
        raise SigningKeyError(f"not a PEM public key ({err})") from err
    if not isinstance(key, Ed25519PublicKey):
        raise SigningKeyError(f"not an Ed25519 public key but {type(key).__name__}")
    return key


def verify_signature(public_key: Ed25519PublicKey, data: bytes, signature: bytes) -> bool:
    """Whether ``signature`` is ``public_key``'s signature of ``data``."""
    try:
        public_key.verify(signature, data)
    except InvalidSignature:
        return False
    return True


class SigningKey:
    """The installation's private signing key; its ``repr`` shows only the fingerprint."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._private_key = private_key
        self.public_key = private_key.public_key()

    @classmethod
    def load_or_create(cls, data_dir: Path) -> SigningKey:
        """The key in ``data_dir``, made on first use; refuses a key others can read."""
        folder = data_dir / KEY_DIR
        path = folder / KEY_FILE
        folder.mkdir(mode=KEY_DIR_MODE, parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, KEY_FILE_MODE)
        except FileExistsError:
            return cls._load(path)
        private_key = Ed25519PrivateKey.generate()
        pem = private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        with os.fdopen(fd, "wb") as file:
            file.write(pem)
            file.flush()
            os.fsync(file.fileno())
        return cls(private_key)

    @classmethod
    def _load(cls, path: Path) -> SigningKey:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise SigningKeyError(
                f"{path}: the signing key is readable by others (mode {mode:o}); "
                f"fix: chmod 600 {path}"
            )
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except ValueError as err:
            raise SigningKeyError(f"{path}: not a readable private key ({err})") from err
        if not isinstance(key, Ed25519PrivateKey):
            raise SigningKeyError(f"{path}: not an Ed25519 key but {type(key).__name__}")
        return cls(key)

    @property
    def fingerprint(self) -> str:
        """SHA-256 (hex) of the public key: what a court compares."""
        return fingerprint(self.public_key)

    def public_pem(self) -> bytes:
        """The public key as PEM SubjectPublicKeyInfo (what ``openssl pkeyutl`` reads)."""
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign(self, data: bytes) -> bytes:
        """The 64-byte Ed25519 signature of ``data``."""
        return self._private_key.sign(data)

    def __repr__(self) -> str:
        return f"SigningKey(fingerprint={self.fingerprint})"
