"""HTTPS when the configuration names a certificate and its key; exact errors when it is wrong."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from cityhub.auth.roles import Role
from cityhub.config import ConfigError, load_config
from cityhub.plugins import Plugins
from cityhub.testing.api import TEST_PASSWORD, add_account
from cityhub.testing.hub import HubFactory


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as the town's IT would issue (here self-signed)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cityhub.test")])
    now = dt.datetime.now(dt.UTC)

    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "panel.crt", folder / "panel.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def config(**http: Any) -> dict[str, Any]:
    return {
        "http": {"host": "127.0.0.1", "port": 0, **http},
        "zones": [{"id": "centre", "name": "Centre"}],
        "cameras": [],
    }


async def test_the_panel_is_served_over_https_with_a_secure_cookie(
    cityhub_config: Callable[..., Path], cityhub_hub: HubFactory, tmp_path: Path
) -> None:
    cert, key = self_signed(tmp_path)
    hub = await cityhub_hub(cityhub_config(config(tls_certificate=str(cert), tls_key=str(key))))
    assert hub.http_url is not None
    assert hub.http_url.startswith("https://127.0.0.1:")
    await add_account(hub, "j.martin", Role.OPERATOR)
    trusted = ssl.create_default_context(cafile=str(cert))
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        body = {"user": "j.martin", "password": TEST_PASSWORD}
        async with session.post(f"{hub.http_url}/api/auth/login", json=body, ssl=trusted) as r:
            assert r.status == 200
            cookie = r.cookies["cityhub_session"]
            assert cookie["secure"]
            assert cookie["httponly"]
        async with session.get(f"{hub.http_url}/api/auth/me", ssl=trusted) as r:
            assert r.status == 200
    plain = hub.http_url.replace("https://", "http://")
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientError):
            async with session.get(f"{plain}/api/auth/me") as r:
                await r.read()


def load(folder: Path) -> None:
    plugins = Plugins.load()
    load_config(
        folder,
        camera_drivers=plugins.camera_drivers,
        storage_backends=plugins.storage_backends,
        notifiers=plugins.notifiers,
    )


def test_a_half_or_wrong_tls_configuration_is_refused_at_its_line(tmp_path: Path) -> None:
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "cityhub.yaml").write_text(
        "http:\n  port: 0\n  tls_certificate: panel.crt\nzones: []\ncameras: []\n"
    )
    with pytest.raises(ConfigError) as half:
        load(folder)
    messages = [issue.format(folder) for issue in half.value.issues]
    assert any(
        m.startswith("cityhub.yaml:3: http.tls_certificate:") and "tls_key is not" in m
        for m in messages
    ), messages
    (folder / "cityhub.yaml").write_text(
        "http:\n  port: 0\n  tls_certificate: panel.crt\n  tls_key: panel.key\n"
        "zones: []\ncameras: []\n"
    )
    with pytest.raises(ConfigError) as missing:
        load(folder)
    messages = [issue.format(folder) for issue in missing.value.issues]
    assert any(m.startswith("cityhub.yaml:3: http.tls_certificate: no file") for m in messages)
    assert any(m.startswith("cityhub.yaml:4: http.tls_key: no file") for m in messages)
