"""ONVIF WS-Discovery: the messages (SOAP 1.2 over UDP), a Probe client and a Hello/Bye listener.

ONVIF devices speak WS-Discovery of April 2005 with WS-Addressing of August 2004. A client
multicasts a ``Probe`` to 239.255.255.250:3702 and each matching device answers by unicast with
``ProbeMatches``; a device also multicasts ``Hello`` when it joins the network and ``Bye`` when
it leaves. Everything that arrives from the network is untrusted: a datagram that does not
parse is logged at debug level and skipped, never raised.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import io
import logging
import socket
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final
from urllib.parse import unquote, urlsplit
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape, quoteattr

import attrs

_LOGGER = logging.getLogger(__name__)

NS_SOAP: Final = "http://www.w3.org/2003/05/soap-envelope"
NS_WSA: Final = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
NS_WSD: Final = "http://schemas.xmlsoap.org/ws/2005/04/discovery"
NS_DN: Final = "http://www.onvif.org/ver10/network/wsdl"
NS_TDS: Final = "http://www.onvif.org/ver10/device/wsdl"

MULTICAST_GROUP: Final = "239.255.255.250"
PORT: Final = 3702
MULTICAST_TTL: Final = 1
"""Probes and announcements never cross a router (the specification's default TTL)."""
TO_DISCOVERY: Final = "urn:schemas-xmlsoap-org:ws:2005:04:discovery"
TO_ANONYMOUS: Final = f"{NS_WSA}/role/anonymous"

PROBE_REPEAT_DELAY_S: Final = 0.1
"""A probe is sent twice, this far apart (seconds), as SOAP-over-UDP repeats multicast."""
APP_MAX_DELAY_S: Final = 0.5
"""A device waits up to this long (seconds, at random) before answering a multicast probe."""
DEFAULT_PROBE_TIMEOUT_S: Final = 3.0
"""How long a probe collects answers (seconds): the devices' delay plus a loaded network."""

MATCH_BY_RFC3986: Final = "http://schemas.xmlsoap.org/ws/2005/04/discovery/rfc3986"
MATCH_BY_STRCMP0: Final = "http://schemas.xmlsoap.org/ws/2005/04/discovery/strcmp0"

_KNOWN_PREFIXES: Final = {NS_DN: "dn", NS_TDS: "tds", NS_WSD: "d", NS_WSA: "wsa"}
_WSA_NAMESPACES: Final = (NS_WSA, "http://www.w3.org/2005/08/addressing")


class WsdParseError(ValueError):
    """A datagram is not a WS-Discovery message this module understands."""


class MessageKind(enum.StrEnum):
    """The WS-Discovery messages handled here, named as in their body element."""

    PROBE = "Probe"
    PROBE_MATCHES = "ProbeMatches"
    HELLO = "Hello"
    BYE = "Bye"

    @property
    def action(self) -> str:
        """The WS-Addressing action URI of this message."""
        return f"{NS_WSD}/{self.value}"


@attrs.frozen
class QName:
    """A qualified name (``Types`` holds a list of them): namespace URI and local part."""

    namespace: str
    local: str

    def __str__(self) -> str:
        prefix = _KNOWN_PREFIXES.get(self.namespace)
        if prefix:
            return f"{prefix}:{self.local}"
        return f"{{{self.namespace}}}{self.local}" if self.namespace else self.local


NETWORK_VIDEO_TRANSMITTER: Final = QName(NS_DN, "NetworkVideoTransmitter")
DEVICE: Final = QName(NS_TDS, "Device")
ONVIF_TYPES: Final = (NETWORK_VIDEO_TRANSMITTER, DEVICE)
"""What an ONVIF camera advertises and what the probe asks for."""


@attrs.frozen
class Endpoint:
    """One device as WS-Discovery describes it (a ProbeMatch, a Hello or a Bye)."""

    address: str
    """The endpoint reference, a stable id such as ``urn:uuid:...``."""
    types: tuple[QName, ...] = ()
    scopes: tuple[str, ...] = ()
    xaddrs: tuple[str, ...] = ()
    """Where the device service answers (``http://10.20.0.11/onvif/device_service``)."""
    metadata_version: int = 0


@attrs.frozen
class Message:
    """A parsed WS-Discovery message."""

    kind: MessageKind
    message_id: str
    relates_to: str | None = None
    endpoints: tuple[Endpoint, ...] = ()
    """The matches of a ProbeMatches; the one device of a Hello or Bye; empty for a Probe."""
    probe_types: tuple[QName, ...] = ()
    probe_scopes: tuple[str, ...] = ()
    match_by: str | None = None
    app_sequence: tuple[int, int] | None = None
    """(InstanceId, MessageNumber) of a device's message, when it sent one."""


@attrs.frozen
class Sighting:
    """An endpoint and the address of the host whose datagram described it."""

    endpoint: Endpoint
    sender: str

    @property
    def onvif_scopes(self) -> OnvifScopes:
        """The endpoint's ONVIF scopes, decoded."""
        return decode_scopes(self.endpoint.scopes)

    @property
    def host(self) -> str:
        """The device's address: the host of its first IPv4 XAddr, else the sender's."""
        return xaddr_host(self.endpoint.xaddrs) or self.sender


@attrs.frozen
class OnvifScopes:
    """What a device says of itself in its ``onvif://www.onvif.org/...`` scopes, URL-decoded."""

    name: str | None = None
    hardware: str | None = None
    manufacturer: str | None = None
    location: str | None = None
    profiles: tuple[str, ...] = ()
    types: tuple[str, ...] = ()


# --------------------------------------------------------------------------------------------
# Scopes and addresses
# --------------------------------------------------------------------------------------------

ONVIF_SCOPE_PREFIX: Final = "onvif://www.onvif.org/"


def decode_scopes(scopes: Iterable[str]) -> OnvifScopes:
    """Decode ONVIF scopes: name, hardware, mfr, location, Profile and type, URL-decoded."""
    values: dict[str, list[str]] = {}
    for scope in scopes:
        if not scope.lower().startswith(ONVIF_SCOPE_PREFIX):
            continue
        category, _, rest = scope[len(ONVIF_SCOPE_PREFIX) :].partition("/")
        value = "/".join(unquote(part) for part in rest.split("/") if part)
        if value:
            values.setdefault(category.lower(), []).append(value)

    def first(key: str) -> str | None:
        found = values.get(key)
        return found[0] if found else None

    locations = values.get("location", [])
    return OnvifScopes(
        name=first("name"),
        hardware=first("hardware"),
        manufacturer=first("mfr") or first("manufacturer"),
        location=", ".join(locations) if locations else None,
        profiles=tuple(values.get("profile", [])),
        types=tuple(values.get("type", [])),
    )


def _segments(uri: str) -> tuple[str, str, list[str]] | None:
    try:
        parts = urlsplit(uri)
    except ValueError:
        return None
    return parts.scheme.lower(), parts.netloc.lower(), [s for s in parts.path.split("/") if s]


def scope_matches(probe_scope: str, device_scope: str, match_by: str | None = None) -> bool:
    """Whether ``device_scope`` satisfies ``probe_scope`` under the rule ``match_by``.

    The default rule (RFC 3986) compares scheme and authority case-insensitively and requires
    the probe's path segments to be a prefix of the device's; ``strcmp0`` compares the strings.
    An unknown rule matches nothing, as the specification says.
    """
    if match_by in (None, "", MATCH_BY_RFC3986):
        probe, device = _segments(probe_scope), _segments(device_scope)
        if probe is None or device is None:
            return False
        return probe[:2] == device[:2] and device[2][: len(probe[2])] == probe[2]
    if match_by == MATCH_BY_STRCMP0:
        return probe_scope == device_scope
    return False


def probe_matches_endpoint(probe: Message, endpoint: Endpoint) -> bool:
    """Whether a device ``endpoint`` must answer ``probe`` (every type and every scope match)."""
    if not all(t in endpoint.types for t in probe.probe_types):
        return False
    return all(
        any(scope_matches(wanted, own, probe.match_by) for own in endpoint.scopes)
        for wanted in probe.probe_scopes
    )


def xaddr_host(xaddrs: Iterable[str]) -> str | None:
    """The host of the first XAddr whose host is an IPv4 address, else of the first XAddr."""
    hosts = []
    for xaddr in xaddrs:
        try:
            host = urlsplit(xaddr).hostname
        except ValueError:
            continue
        if host:
            hosts.append(host)
    for host in hosts:
        with contextlib.suppress(OSError):
            socket.inet_aton(host)
            return host
    return hosts[0] if hosts else None


def new_message_id() -> str:
    """A fresh ``urn:uuid:`` message id."""
    return f"urn:uuid:{uuid.uuid4()}"


# --------------------------------------------------------------------------------------------
# Building messages
# --------------------------------------------------------------------------------------------


def _types_xml(tag: str, types: Sequence[QName]) -> str:
    if not types:
        return ""
    declarations: dict[str, str] = {}
    names = []
    for qname in types:
        prefix = declarations.setdefault(qname.namespace, f"t{len(declarations)}")
        names.append(f"{prefix}:{qname.local}" if qname.namespace else qname.local)
    xmlns = "".join(f" xmlns:{prefix}={quoteattr(ns)}" for ns, prefix in declarations.items() if ns)
    return f"<d:{tag}{xmlns}>{escape(' '.join(names))}</d:{tag}>"


def _list_xml(tag: str, values: Sequence[str], attributes: str = "") -> str:
    if not values:
        return ""
    return f"<d:{tag}{attributes}>{escape(' '.join(values))}</d:{tag}>"


def _endpoint_xml(endpoint: Endpoint, *, full: bool = True) -> str:
    parts = [
        f"<wsa:EndpointReference><wsa:Address>{escape(endpoint.address)}</wsa:Address>"
        "</wsa:EndpointReference>"
    ]
    if full:
        parts += [
            _types_xml("Types", endpoint.types),
            _list_xml("Scopes", endpoint.scopes),
            _list_xml("XAddrs", endpoint.xaddrs),
            f"<d:MetadataVersion>{endpoint.metadata_version}</d:MetadataVersion>",
        ]
    return "".join(parts)


def _envelope(
    kind: MessageKind,
    body: str,
    *,
    message_id: str,
    to: str,
    relates_to: str | None = None,
    app_sequence: tuple[int, int] | None = None,
) -> bytes:
    header = [
        f"<wsa:MessageID>{escape(message_id)}</wsa:MessageID>",
        f"<wsa:To>{escape(to)}</wsa:To>",
        f"<wsa:Action>{escape(kind.action)}</wsa:Action>",
    ]
    if relates_to is not None:
        header.append(f"<wsa:RelatesTo>{escape(relates_to)}</wsa:RelatesTo>")
    if app_sequence is not None:
        instance, number = app_sequence
        header.append(f'<d:AppSequence InstanceId="{instance}" MessageNumber="{number}"/>')
    text = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<s:Envelope xmlns:s="{NS_SOAP}" xmlns:wsa="{NS_WSA}" xmlns:d="{NS_WSD}">'
        f"<s:Header>{''.join(header)}</s:Header><s:Body>{body}</s:Body></s:Envelope>"
    )
    return text.encode()


def build_probe(
    message_id: str, types: Sequence[QName] = ONVIF_TYPES, scopes: Sequence[str] = ()
) -> bytes:
    """A Probe for devices of every one of ``types`` (and ``scopes``, when given)."""
    body = f"<d:Probe>{_types_xml('Types', types)}{_list_xml('Scopes', scopes)}</d:Probe>"
    return _envelope(MessageKind.PROBE, body, message_id=message_id, to=TO_DISCOVERY)


def build_probe_matches(
    relates_to: str, endpoints: Sequence[Endpoint], app_sequence: tuple[int, int]
) -> bytes:
    """The ProbeMatches answering the probe whose MessageID is ``relates_to``."""
    matches = "".join(f"<d:ProbeMatch>{_endpoint_xml(e)}</d:ProbeMatch>" for e in endpoints)
    return _envelope(
        MessageKind.PROBE_MATCHES,
        f"<d:ProbeMatches>{matches}</d:ProbeMatches>",
        message_id=new_message_id(),
        to=TO_ANONYMOUS,
        relates_to=relates_to,
        app_sequence=app_sequence,
    )


def build_hello(endpoint: Endpoint, app_sequence: tuple[int, int]) -> bytes:
    """The Hello a device multicasts when it joins the network."""
    return _envelope(
        MessageKind.HELLO,
        f"<d:Hello>{_endpoint_xml(endpoint)}</d:Hello>",
        message_id=new_message_id(),
        to=TO_DISCOVERY,
        app_sequence=app_sequence,
    )


def build_bye(endpoint: Endpoint, app_sequence: tuple[int, int]) -> bytes:
    """The Bye a device multicasts when it leaves the network."""
    return _envelope(
        MessageKind.BYE,
        f"<d:Bye>{_endpoint_xml(endpoint, full=False)}</d:Bye>",
        message_id=new_message_id(),
        to=TO_DISCOVERY,
        app_sequence=app_sequence,
    )


# --------------------------------------------------------------------------------------------
# Parsing messages
# --------------------------------------------------------------------------------------------

_Prefixes = dict[str, str]


def _parse_tree(data: bytes) -> tuple[ET.Element, dict[int, _Prefixes]]:
    """The root element, and the namespace prefixes in scope at each ``Types`` element."""
    # Entity declarations are refused before parsing: a datagram from anyone on the network
    # must not be able to make the parser expand entities.
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise WsdParseError("document type declarations are not allowed")
    stack: list[_Prefixes] = []
    pending: _Prefixes = {}
    at_types: dict[int, _Prefixes] = {}
    root: ET.Element | None = None
    try:
        for event, item in ET.iterparse(  # noqa: S314 - DTDs are refused above
            io.BytesIO(data), events=("start-ns", "start", "end")
        ):
            if event == "start-ns":
                prefix, uri = item
                pending[prefix] = uri
            elif event == "start":
                element: ET.Element = item
                if root is None:
                    root = element
                stack.append(pending)
                pending = {}
                if element.tag.endswith("}Types"):
                    merged: _Prefixes = {}
                    for scope in stack:
                        merged.update(scope)
                    at_types[id(element)] = merged
            else:
                stack.pop()
    except ET.ParseError as err:
        raise WsdParseError(f"not well-formed XML: {err}") from err
    if root is None:
        raise WsdParseError("empty document")
    return root, at_types


def _child(parent: ET.Element, namespaces: Sequence[str], local: str) -> ET.Element | None:
    for namespace in namespaces:
        found = parent.find(f"{{{namespace}}}{local}")
        if found is not None:
            return found
    return None


def _text(element: ET.Element | None) -> str:
    return (element.text or "").strip() if element is not None else ""


def _qnames(element: ET.Element | None, at_types: dict[int, _Prefixes]) -> tuple[QName, ...]:
    if element is None:
        return ()
    prefixes = at_types.get(id(element), {})
    names = []
    for token in _text(element).split():
        prefix, sep, local = token.rpartition(":")
        if not sep:
            names.append(QName(prefixes.get("", ""), token))
        elif prefix in prefixes:
            names.append(QName(prefixes[prefix], local))
        else:
            raise WsdParseError(f"type {token!r} uses an undeclared prefix")
    return tuple(names)


def _parse_endpoint(element: ET.Element, at_types: dict[int, _Prefixes]) -> Endpoint:
    reference = _child(element, _WSA_NAMESPACES, "EndpointReference")
    address = _text(_child(reference, _WSA_NAMESPACES, "Address")) if reference is not None else ""
    if not address:
        raise WsdParseError(f"{element.tag.split('}')[-1]} has no EndpointReference/Address")
    version_text = _text(element.find(f"{{{NS_WSD}}}MetadataVersion"))
    try:
        version = int(version_text) if version_text else 0
    except ValueError as err:
        raise WsdParseError(f"MetadataVersion {version_text!r} is not a number") from err
    return Endpoint(
        address=address,
        types=_qnames(element.find(f"{{{NS_WSD}}}Types"), at_types),
        scopes=tuple(_text(element.find(f"{{{NS_WSD}}}Scopes")).split()),
        xaddrs=tuple(_text(element.find(f"{{{NS_WSD}}}XAddrs")).split()),
        metadata_version=version,
    )


def _app_sequence(header: ET.Element) -> tuple[int, int] | None:
    element = header.find(f"{{{NS_WSD}}}AppSequence")
    if element is None:
        return None
    try:
        return int(element.get("InstanceId", "")), int(element.get("MessageNumber", ""))
    except ValueError as err:
        raise WsdParseError("AppSequence needs numeric InstanceId and MessageNumber") from err


def parse_message(data: bytes) -> Message:
    """Parse one datagram; raises :class:`WsdParseError` saying what is wrong with it."""
    root, at_types = _parse_tree(data)
    if root.tag != f"{{{NS_SOAP}}}Envelope":
        raise WsdParseError(f"root element is {root.tag}, not a SOAP 1.2 Envelope")
    header = root.find(f"{{{NS_SOAP}}}Header")
    body = root.find(f"{{{NS_SOAP}}}Body")
    if header is None or body is None or len(body) == 0:
        raise WsdParseError("the envelope needs a Header and a non-empty Body")
    message_id = _text(_child(header, _WSA_NAMESPACES, "MessageID"))
    if not message_id:
        raise WsdParseError("the header has no MessageID")
    relates_to = _text(_child(header, _WSA_NAMESPACES, "RelatesTo")) or None
    content = body[0]
    namespace, _, local = content.tag[1:].partition("}")
    try:
        kind = MessageKind(local)
    except ValueError:
        kind = None
    if namespace != NS_WSD or kind is None:
        raise WsdParseError(f"unsupported body element {content.tag}")
    app_sequence = _app_sequence(header)
    if kind is MessageKind.PROBE:
        scopes = content.find(f"{{{NS_WSD}}}Scopes")
        return Message(
            kind,
            message_id,
            relates_to,
            probe_types=_qnames(content.find(f"{{{NS_WSD}}}Types"), at_types),
            probe_scopes=tuple(_text(scopes).split()),
            match_by=scopes.get("MatchBy") if scopes is not None else None,
            app_sequence=app_sequence,
        )
    if kind is MessageKind.PROBE_MATCHES:
        endpoints = []
        for match in content.findall(f"{{{NS_WSD}}}ProbeMatch"):
            try:
                endpoints.append(_parse_endpoint(match, at_types))
            except WsdParseError as err:
                _LOGGER.debug("Skipping a ProbeMatch of %s: %s", message_id, err)
        return Message(kind, message_id, relates_to, tuple(endpoints), app_sequence=app_sequence)
    endpoint = _parse_endpoint(content, at_types)
    return Message(kind, message_id, relates_to, (endpoint,), app_sequence=app_sequence)


def try_parse(data: bytes, sender: str) -> Message | None:
    """Parse a datagram from ``sender``; ``None`` (with a debug line) when it does not parse."""
    try:
        return parse_message(data)
    except WsdParseError as err:
        _LOGGER.debug("Ignoring a datagram of %d bytes from %s: %s", len(data), sender, err)
        return None


# --------------------------------------------------------------------------------------------
# Sockets
# --------------------------------------------------------------------------------------------


def ipv4_interfaces() -> list[str]:
    """The IPv4 address of every interface that is up, loopback excepted."""
    import ifaddr  # zeroconf's own dependency: lists addresses on Linux, BSD and Windows

    found: list[str] = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if isinstance(ip.ip, str) and not ip.ip.startswith("127.") and ip.ip not in found:
                found.append(ip.ip)
    return found


def multicast_sender(interface: str) -> socket.socket:
    """A non-blocking UDP socket bound to ``interface`` that multicasts through it, TTL 1."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    try:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(interface))
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, MULTICAST_TTL)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
        sock.bind((interface, 0))
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def multicast_receiver(interfaces: Sequence[str], bind: str, port: int = PORT) -> socket.socket:
    """A non-blocking UDP socket on ``bind:port`` that joined the group on each interface."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if hasattr(socket, "SO_REUSEPORT"):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((bind, port))
        group = socket.inet_aton(MULTICAST_GROUP)
        for interface in interfaces:
            sock.setsockopt(
                socket.IPPROTO_IP,
                socket.IP_ADD_MEMBERSHIP,
                group + socket.inet_aton(interface),
            )
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


OnDatagram = Callable[[bytes, tuple[str, int]], None]
"""Called with each datagram and its sender's (host, port)."""


class _Datagrams(asyncio.DatagramProtocol):
    """Hands every datagram to a callback; socket errors are logged, never raised."""

    def __init__(self, on_datagram: OnDatagram) -> None:
        self._on_datagram = on_datagram

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        try:
            self._on_datagram(data, (str(addr[0]), int(addr[1])))
        except Exception:
            _LOGGER.exception("Error handling a WS-Discovery datagram from %s", addr[0])

    def error_received(self, exc: Exception) -> None:
        _LOGGER.debug("WS-Discovery socket error: %s", exc)


async def async_open(sock: socket.socket, on_datagram: OnDatagram) -> asyncio.DatagramTransport:
    """Attach ``sock`` to the running loop; ``on_datagram(data, (host, port))`` gets each one."""
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(lambda: _Datagrams(on_datagram), sock=sock)
    return transport


def _resolve_interfaces(interfaces: Sequence[str] | None) -> list[str]:
    chosen = list(interfaces) if interfaces is not None else ipv4_interfaces()
    for interface in chosen:
        try:
            socket.inet_aton(interface)
        except OSError as err:
            raise ValueError(
                f"interface {interface!r} is not an IPv4 address "
                "(give the address of one of this machine's interfaces, such as 10.20.0.5)"
            ) from err
    return chosen


# --------------------------------------------------------------------------------------------
# Client: probe and listener
# --------------------------------------------------------------------------------------------


async def async_probe(
    *,
    interfaces: Sequence[str] | None = None,
    targets: Sequence[str] = (),
    timeout: float = DEFAULT_PROBE_TIMEOUT_S,
    types: Sequence[QName] = ONVIF_TYPES,
    scopes: Sequence[str] = (),
) -> list[Sighting]:
    """Probe for ONVIF devices; return each one that answered within ``timeout`` seconds.

    The probe is multicast on each of ``interfaces`` (IPv4 addresses of this machine; every
    interface but loopback when ``None``, none when empty) and sent by unicast to each host
    of ``targets``, for devices beyond a router that multicast does not cross.
    Answers are de-duplicated by endpoint reference, the highest MetadataVersion winning.
    """
    chosen = _resolve_interfaces(interfaces)
    message_id = new_message_id()
    probe = build_probe(message_id, types, scopes)
    found: dict[str, Sighting] = {}

    def on_datagram(data: bytes, origin: tuple[str, int]) -> None:
        sender = origin[0]
        message = try_parse(data, sender)
        if message is None:
            return
        if message.kind is not MessageKind.PROBE_MATCHES or message.relates_to != message_id:
            _LOGGER.debug("Ignoring %s from %s (not an answer to our probe)", message.kind, sender)
            return
        for endpoint in message.endpoints:
            known = found.get(endpoint.address)
            if known is None or endpoint.metadata_version > known.endpoint.metadata_version:
                found[endpoint.address] = Sighting(endpoint, sender)

    sends: list[tuple[asyncio.DatagramTransport, tuple[str, int]]] = []
    transports: list[asyncio.DatagramTransport] = []
    try:
        for interface in chosen:
            transport = await async_open(multicast_sender(interface), on_datagram)
            transports.append(transport)
            sends.append((transport, (MULTICAST_GROUP, PORT)))
        if targets:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
            sock.setblocking(False)
            sock.bind(("0.0.0.0", 0))  # noqa: S104 - the kernel picks the route to each target
            transport = await async_open(sock, on_datagram)
            transports.append(transport)
            sends += [(transport, (target, PORT)) for target in targets]
        if not sends:
            raise ValueError(
                "no network interface to probe on: pass an interface address or a target host"
            )
        _LOGGER.debug("Probing on %s and %s (%s)", chosen, list(targets), message_id)
        for attempt in range(2):
            if attempt:
                await asyncio.sleep(PROBE_REPEAT_DELAY_S)
            for transport, destination in sends:
                transport.sendto(probe, destination)
        await asyncio.sleep(max(timeout - PROBE_REPEAT_DELAY_S, 0.0))
    finally:
        for transport in transports:
            transport.close()
    return list(found.values())


class ListenerChange(enum.StrEnum):
    """What a Hello or Bye did to the listener's list."""

    ADDED = "added"
    UPDATED = "updated"
    REMOVED = "removed"


class WsdListener:
    """Keeps a live list of ONVIF devices from their Hello and Bye announcements.

    ``on_change(change, sighting)`` is called in the loop for each Hello of an ONVIF device
    (one with the ``NetworkVideoTransmitter`` type; others are left out) and for each Bye.
    """

    def __init__(
        self,
        interfaces: Sequence[str] | None = None,
        on_change: Callable[[ListenerChange, Sighting], None] | None = None,
        port: int = PORT,
    ) -> None:
        self._interfaces = interfaces
        self._on_change = on_change
        self._port = port
        self._transport: asyncio.DatagramTransport | None = None
        self.devices: dict[str, Sighting] = {}
        """Endpoint reference -> the device's last Hello."""

    async def async_start(self) -> None:
        """Join the WS-Discovery group on the interfaces and start listening."""
        chosen = _resolve_interfaces(self._interfaces)
        if not chosen:
            raise ValueError("no network interface to listen on: pass an interface address")
        # Bound to the group address, the socket gets the group's datagrams only.
        sock = multicast_receiver(chosen, MULTICAST_GROUP, self._port)
        self._transport = await async_open(sock, self._on_datagram)

    async def async_stop(self) -> None:
        """Stop listening; the list stays as it was."""
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    def _on_datagram(self, data: bytes, origin: tuple[str, int]) -> None:
        sender = origin[0]
        message = try_parse(data, sender)
        if message is None or message.kind not in (MessageKind.HELLO, MessageKind.BYE):
            return
        sighting = Sighting(message.endpoints[0], sender)
        address = sighting.endpoint.address
        if message.kind is MessageKind.BYE:
            # Also for a device not heard from since listening began: the owner of the list
            # may know it from a probe.
            self.devices.pop(address, None)
            self._notify(ListenerChange.REMOVED, sighting)
            return
        if NETWORK_VIDEO_TRANSMITTER not in sighting.endpoint.types:
            return
        change = ListenerChange.UPDATED if address in self.devices else ListenerChange.ADDED
        self.devices[address] = sighting
        self._notify(change, sighting)

    def _notify(self, change: ListenerChange, sighting: Sighting) -> None:
        _LOGGER.debug("WS-Discovery %s: %s at %s", change, sighting.endpoint.address, sighting.host)
        if self._on_change is not None:
            self._on_change(change, sighting)
