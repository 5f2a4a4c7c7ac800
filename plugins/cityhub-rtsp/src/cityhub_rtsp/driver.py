"""A camera driver for any camera that serves its streams over RTSP, with no vendor API."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import voluptuous as vol

from cityhub.api import CameraDriver, DriverHost, NotReadyError, PacketReader, StreamProfile

DEFAULT_RTSP_PORT = 554
CONNECT_TIMEOUT_S = 3.0
"""How long set-up waits for the camera's RTSP port to accept a connection (seconds)."""


def rtsp_url(value: Any) -> str:
    """Validate an ``rtsp://`` or ``rtsps://`` URL without credentials in it."""
    if not isinstance(value, str):
        raise vol.Invalid("expected an RTSP URL (rtsp://host[:port]/path)")
    parts = urlsplit(value)
    if parts.scheme not in ("rtsp", "rtsps") or not parts.hostname:
        raise vol.Invalid(f"'{value}' is not an RTSP URL (expected rtsp://host[:port]/path)")
    if parts.username is not None or parts.password is not None:
        raise vol.Invalid(
            "credentials are not allowed in the URL "
            "(put them in username and password, the password via !secret)"
        )
    try:
        parts.port  # noqa: B018 - raises on an invalid port
    except ValueError as err:
        raise vol.Invalid(f"invalid port in '{value}'") from err
    return value


CONFIG_SCHEMA = vol.Schema(
    {
        vol.Required("url"): rtsp_url,
        vol.Optional("sub_url"): rtsp_url,
        vol.Optional("username"): str,
        vol.Optional("password"): str,
    }
)


def with_credentials(url: str, username: str | None, password: str | None) -> str:
    """``url`` with ``username:password@`` inserted, both percent-encoded."""
    if username is None:
        return url
    parts = urlsplit(url)
    auth = quote(username, safe="")
    if password is not None:
        auth += ":" + quote(password, safe="")
    return urlunsplit(parts._replace(netloc=f"{auth}@{parts.netloc}"))


class RtspCamera(CameraDriver):
    """A camera known only by its RTSP URLs: the core opens them with FFmpeg over TCP."""

    NAME = "rtsp"
    DESCRIPTION = "Any camera serving H.264/H.265 over RTSP (no vendor API)"
    CONFIG_SCHEMA = CONFIG_SCHEMA

    def __init__(self, host: DriverHost, options: Mapping[str, Any]) -> None:
        super().__init__(host, options)
        user, password = options.get("username"), options.get("password")
        self._profiles = [
            StreamProfile("main", url=with_credentials(options["url"], user, password))
        ]
        if "sub_url" in options:
            sub_url = with_credentials(options["sub_url"], user, password)
            self._profiles.append(StreamProfile("sub", url=sub_url))

    async def async_setup(self) -> None:
        """Check that the camera's RTSP port accepts a connection; not ready otherwise."""
        parts = urlsplit(self.options["url"])
        host, port = parts.hostname or "", parts.port or DEFAULT_RTSP_PORT
        try:
            _reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port), CONNECT_TIMEOUT_S
            )
        except (OSError, TimeoutError) as err:
            reason = "no answer" if isinstance(err, TimeoutError) else err.strerror or str(err)
            raise NotReadyError(f"{host}:{port} unreachable ({reason})") from err
        writer.close()
        await writer.wait_closed()

    def stream_profiles(self) -> Sequence[StreamProfile]:
        """The main stream, and the sub-stream when configured."""
        return self._profiles

    def open_stream(self, profile: str) -> PacketReader:
        """Not used: every profile has a URL that the core opens itself."""
        raise NotImplementedError
