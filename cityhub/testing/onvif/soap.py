"""SOAP 1.2 plumbing of the ONVIF simulator: envelopes, WS-Security UsernameToken, faults.

Requests are parsed with the standard library's ElementTree; responses are written as text
with every namespace the simulator uses declared once on the envelope, so a body may use any
of the prefixes in :data:`NAMESPACES`.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from xml.sax.saxutils import escape, quoteattr

import attrs

__all__ = [
    "NAMESPACES",
    "Credentials",
    "SoapFault",
    "SoapRequest",
    "attr",
    "check_username_token",
    "envelope",
    "fault_envelope",
    "format_time",
    "parse_duration",
    "parse_request",
    "parse_termination",
    "text",
]

NAMESPACES = {
    "env": "http://www.w3.org/2003/05/soap-envelope",
    "xs": "http://www.w3.org/2001/XMLSchema",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
    "wsa": "http://www.w3.org/2005/08/addressing",
    "wsse": ("http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"),
    "wsu": ("http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"),
    "wsnt": "http://docs.oasis-open.org/wsn/b-2",
    "wstop": "http://docs.oasis-open.org/wsn/t-1",
    "tt": "http://www.onvif.org/ver10/schema",
    "tds": "http://www.onvif.org/ver10/device/wsdl",
    "trt": "http://www.onvif.org/ver10/media/wsdl",
    "tr2": "http://www.onvif.org/ver20/media/wsdl",
    "tptz": "http://www.onvif.org/ver20/ptz/wsdl",
    "tev": "http://www.onvif.org/ver10/events/wsdl",
    "tns1": "http://www.onvif.org/ver10/topics",
    "ter": "http://www.onvif.org/ver10/error",
    "wsntw": "http://docs.oasis-open.org/wsn/bw-2",
    "wsrf-rw": "http://docs.oasis-open.org/wsrf/rw-2",
}
CONTENT_TYPE = "application/soap+xml; charset=utf-8"
_DECLARATIONS = " ".join(f'xmlns:{prefix}="{uri}"' for prefix, uri in NAMESPACES.items())
_DURATION = re.compile(
    r"^(?P<sign>-)?P(?:(?P<days>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)


class SoapFault(Exception):
    """A SOAP fault to send back: ``code`` is ``Sender`` or ``Receiver``; ``subcodes`` are
    ``ter:`` names (e.g. ``("InvalidArgVal", "NoProfile")``) or prefixed names."""

    def __init__(
        self,
        reason: str,
        *subcodes: str,
        code: str = "Sender",
        status: int | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.subcodes = subcodes
        self.code = code
        self.status = status if status is not None else (400 if code == "Sender" else 500)


@attrs.frozen
class Credentials:
    """The user name and password the device accepts."""

    username: str
    password: str = attrs.field(repr=False)


@attrs.frozen
class SoapRequest:
    """One parsed request: its header and its body's first element."""

    header: ET.Element | None
    body: ET.Element

    @property
    def operation(self) -> str:
        """The body element's local name, which names the operation."""
        return local_name(self.body.tag)

    @property
    def namespace(self) -> str:
        """The body element's namespace URI."""
        tag = self.body.tag
        return tag[1:].split("}", 1)[0] if tag.startswith("{") else ""


def local_name(tag: str) -> str:
    """``Name`` of ``{uri}Name``."""
    return tag.rsplit("}", 1)[-1]


def parse_request(data: bytes) -> SoapRequest:
    """Parse a SOAP envelope; a :class:`SoapFault` when it is not one."""
    try:
        root = ET.fromstring(data)  # noqa: S314 - the simulator parses its tests' requests
    except ET.ParseError as err:
        raise SoapFault(f"the request is not well-formed XML: {err}", "WellFormed") from err
    if local_name(root.tag) != "Envelope":
        raise SoapFault("the request is not a SOAP envelope", "WellFormed")
    header = body = None
    for child in root:
        name = local_name(child.tag)
        if name == "Header":
            header = child
        elif name == "Body":
            body = child
    if body is None or len(body) == 0:
        raise SoapFault("the SOAP envelope has no body element", "WellFormed")
    return SoapRequest(header, body[0])


def children(element: ET.Element | None, name: str) -> Iterator[ET.Element]:
    """The direct children of ``element`` named ``name`` (any namespace)."""
    if element is None:
        return
    for child in element:
        if local_name(child.tag) == name:
            yield child


def child(element: ET.Element | None, name: str) -> ET.Element | None:
    """The first direct child named ``name`` (any namespace), or ``None``."""
    return next(children(element, name), None)


def text(element: ET.Element | None, name: str, default: str | None = None) -> str | None:
    """The stripped text of the first child ``name``, or ``default``."""
    found = child(element, name)
    if found is None or found.text is None:
        return default
    return found.text.strip()


def attr(element: ET.Element | None, name: str) -> str | None:
    """An attribute of ``element`` by local name (any namespace), or ``None``."""
    if element is None:
        return None
    for key, value in element.attrib.items():
        if local_name(key) == name:
            return value
    return None


def check_username_token(
    header: ET.Element | None,
    credentials: Credentials,
    now: dt.datetime,
    max_skew_s: float | None,
) -> str | None:
    """Why the request's WS-Security UsernameToken is refused, or ``None`` when it is good.

    PasswordDigest is Base64(SHA1(nonce + created + password)); PasswordText is compared
    as is. With ``max_skew_s``, a ``Created`` further than that from ``now`` is refused too.
    """
    security = child(header, "Security")
    token = child(security, "UsernameToken")
    if token is None:
        return "no WS-Security UsernameToken"
    username = text(token, "Username") or ""
    password_element = child(token, "Password")
    given = (password_element.text or "").strip() if password_element is not None else ""
    kind = attr(password_element, "Type") or ""
    created = text(token, "Created") or ""
    if kind.endswith("#PasswordDigest"):
        try:
            nonce = base64.b64decode(text(token, "Nonce") or "", validate=True)
        except (binascii.Error, ValueError):
            return "the UsernameToken nonce is not Base64"
        raw = nonce + created.encode() + credentials.password.encode()
        expected = base64.b64encode(hashlib.sha1(raw).digest()).decode()  # noqa: S324
    else:
        expected = credentials.password
    user_ok = hmac.compare_digest(username.encode(), credentials.username.encode())
    if not (user_ok and hmac.compare_digest(given.encode(), expected.encode())):
        return "wrong user name or password"
    if max_skew_s is not None and created:
        try:
            stamp = dt.datetime.fromisoformat(created.replace("Z", "+00:00"))
        except ValueError:
            return "the UsernameToken's Created is not a date and time"
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=dt.UTC)
        if abs((stamp - now).total_seconds()) > max_skew_s:
            return "the UsernameToken's Created is too far from the device clock"
    return None


def envelope(body: str, header: str = "") -> str:
    """A SOAP 1.2 envelope around ``body`` (XML text using the prefixes of NAMESPACES)."""
    head = f"<env:Header>{header}</env:Header>" if header else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<env:Envelope {_DECLARATIONS}>'
        f"{head}<env:Body>{body}</env:Body></env:Envelope>"
    )


def fault_envelope(fault: SoapFault) -> str:
    """The SOAP 1.2 fault envelope for ``fault``."""
    code = f"<env:Value>env:{fault.code}</env:Value>"
    nested = ""
    for subcode in reversed(fault.subcodes):
        name = subcode if ":" in subcode else f"ter:{subcode}"
        nested = f"<env:Subcode><env:Value>{name}</env:Value>{nested}</env:Subcode>"
    body = (
        f"<env:Fault><env:Code>{code}{nested}</env:Code>"
        f'<env:Reason><env:Text xml:lang="en">{escape(fault.reason)}</env:Text></env:Reason>'
        "</env:Fault>"
    )
    return envelope(body)


def esc(value: object) -> str:
    """``value`` as escaped XML text."""
    return escape(str(value))


def qattr(value: object) -> str:
    """``value`` as a quoted, escaped XML attribute value."""
    return quoteattr(str(value))


def xbool(value: bool) -> str:
    """An xs:boolean."""
    return "true" if value else "false"


def format_time(moment: dt.datetime) -> str:
    """An xs:dateTime in UTC with a ``Z``."""
    moment = moment.astimezone(dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_duration(value: str) -> float:
    """Seconds in an xs:duration such as ``PT5S``, ``PT1M30S`` or ``P1D``."""
    match = _DURATION.match(value.strip())
    if not match or value.strip() in ("P", "PT"):
        raise SoapFault(f"{value!r} is not an xs:duration (e.g. PT10S)", "InvalidArgVal")
    parts = {k: float(v) for k, v in match.groupdict().items() if v and k != "sign"}
    seconds = (
        parts.get("days", 0.0) * 86400
        + parts.get("hours", 0.0) * 3600
        + parts.get("minutes", 0.0) * 60
        + parts.get("seconds", 0.0)
    )
    return -seconds if match.group("sign") else seconds


def parse_termination(value: str | None, now: dt.datetime, default_s: float) -> dt.datetime:
    """A termination time given as a duration (``PT60S``) or an absolute xs:dateTime."""
    if value is None or not value.strip():
        return now + dt.timedelta(seconds=default_s)
    value = value.strip()
    if value.startswith(("P", "-P")):
        return now + dt.timedelta(seconds=parse_duration(value))
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as err:
        raise SoapFault(
            f"{value!r} is neither an xs:duration nor an xs:dateTime",
            "InvalidArgVal",
        ) from err
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
