"""WS-Discovery messages: parsing what devices send (written here from the WS-Discovery 2005/04
and ONVIF Core specifications, with the prefixes and layouts cameras use), building what we send,
probe matching, and refusing whatever else arrives."""

from __future__ import annotations

import pytest

from cityhub.discovery.wsd import (
    DEVICE,
    MATCH_BY_STRCMP0,
    NETWORK_VIDEO_TRANSMITTER,
    NS_DN,
    ONVIF_TYPES,
    Endpoint,
    MessageKind,
    QName,
    WsdParseError,
    build_bye,
    build_hello,
    build_probe,
    build_probe_matches,
    decode_scopes,
    parse_message,
    probe_matches_endpoint,
    scope_matches,
    try_parse,
    xaddr_host,
)

# A ProbeMatches as many cameras send it: SOAP-ENV / wsadis / d prefixes, the types declared on
# the envelope under other prefixes than ours, two XAddrs (IPv6 first), URL-encoded scopes.
PROBE_MATCHES = b"""<?xml version="1.0" encoding="UTF-8"?>
<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope"
    xmlns:wsadis="http://schemas.xmlsoap.org/ws/2004/08/addressing"
    xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery"
    xmlns:dn="http://www.onvif.org/ver10/network/wsdl"
    xmlns:tds="http://www.onvif.org/ver10/device/wsdl">
  <SOAP-ENV:Header>
    <wsadis:MessageID>uuid:9a1c0e62-5d3b-4e1a-9f6e-00408cabcdef</wsadis:MessageID>
    <wsadis:RelatesTo>urn:uuid:2b8c7d80-1f00-4c3e-a0d1-6a7bb1f0e001</wsadis:RelatesTo>
    <wsadis:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</wsadis:To>
    <wsadis:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches</wsadis:Action>
    <d:AppSequence InstanceId="1732200000" MessageNumber="7"/>
  </SOAP-ENV:Header>
  <SOAP-ENV:Body>
    <d:ProbeMatches>
      <d:ProbeMatch>
        <wsadis:EndpointReference>
          <wsadis:Address>urn:uuid:00408c1a-2b3c-4d5e-8f90-00408cabcdef</wsadis:Address>
        </wsadis:EndpointReference>
        <d:Types>dn:NetworkVideoTransmitter tds:Device</d:Types>
        <d:Scopes>
          onvif://www.onvif.org/type/video_encoder onvif://www.onvif.org/type/ptz
          onvif://www.onvif.org/Profile/Streaming onvif://www.onvif.org/Profile/T
          onvif://www.onvif.org/name/Place%20du%20Mandarous onvif://www.onvif.org/hardware/DOME-4K%2FIR
          onvif://www.onvif.org/location/city/Millau onvif://www.onvif.org/location/Mandarous
          onvif://www.onvif.org/mfr/Acme%20Vision http://example.org/other/scope
        </d:Scopes>
        <d:XAddrs>http://[fe80::240:8cff:feab:cdef]/onvif/device_service http://10.20.0.11/onvif/device_service</d:XAddrs>
        <d:MetadataVersion>3</d:MetadataVersion>
      </d:ProbeMatch>
    </d:ProbeMatches>
  </SOAP-ENV:Body>
</SOAP-ENV:Envelope>
"""

# A Hello whose types use a prefix declared on the Types element itself and the default
# namespace, as some encoders write it.
HELLO = b"""<?xml version="1.0" encoding="utf-8"?>
<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"
    xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing">
  <s:Header>
    <a:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/Hello</a:Action>
    <a:MessageID>urn:uuid:5e0d4b2a-0000-4000-8000-0000000000aa</a:MessageID>
    <a:To>urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To>
  </s:Header>
  <s:Body>
    <Hello xmlns="http://schemas.xmlsoap.org/ws/2005/04/discovery">
      <a:EndpointReference><a:Address>urn:uuid:c0ffee00-0000-4000-8000-000000000001</a:Address></a:EndpointReference>
      <Types xmlns:x="http://www.onvif.org/ver10/network/wsdl">x:NetworkVideoTransmitter</Types>
      <Scopes>onvif://www.onvif.org/name/Gare</Scopes>
      <XAddrs>http://10.20.0.12:8080/onvif/device_service</XAddrs>
      <MetadataVersion>1</MetadataVersion>
    </Hello>
  </s:Body>
</s:Envelope>
"""

BYE = b"""<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"
    xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing"
    xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery">
  <s:Header><a:MessageID>urn:uuid:5e0d4b2a-0000-4000-8000-0000000000bb</a:MessageID>
    <a:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/Bye</a:Action></s:Header>
  <s:Body><d:Bye><a:EndpointReference><a:Address>urn:uuid:c0ffee00-0000-4000-8000-000000000001</a:Address></a:EndpointReference></d:Bye></s:Body>
</s:Envelope>"""


def test_probe_matches_as_cameras_send_them() -> None:
    message = parse_message(PROBE_MATCHES)

    assert message.kind is MessageKind.PROBE_MATCHES
    assert message.message_id == "uuid:9a1c0e62-5d3b-4e1a-9f6e-00408cabcdef"
    assert message.relates_to == "urn:uuid:2b8c7d80-1f00-4c3e-a0d1-6a7bb1f0e001"
    assert message.app_sequence == (1732200000, 7)
    (endpoint,) = message.endpoints
    assert endpoint.address == "urn:uuid:00408c1a-2b3c-4d5e-8f90-00408cabcdef"
    assert endpoint.types == (NETWORK_VIDEO_TRANSMITTER, DEVICE)
    assert len(endpoint.scopes) == 10
    assert endpoint.metadata_version == 3
    assert xaddr_host(endpoint.xaddrs) == "10.20.0.11"


def test_onvif_scopes_are_decoded() -> None:
    scopes = decode_scopes(parse_message(PROBE_MATCHES).endpoints[0].scopes)

    assert scopes.name == "Place du Mandarous"
    assert scopes.hardware == "DOME-4K/IR"
    assert scopes.manufacturer == "Acme Vision"
    assert scopes.location == "city/Millau, Mandarous"
    assert scopes.profiles == ("Streaming", "T")
    assert scopes.types == ("video_encoder", "ptz")


def test_scopes_without_onvif_ones_decode_to_nothing() -> None:
    scopes = decode_scopes(["http://example.org/name/x", "onvif://www.onvif.org/name/"])
    assert (scopes.name, scopes.hardware, scopes.location, scopes.profiles) == (
        None,
        None,
        None,
        (),
    )


def test_hello_with_default_namespace_and_local_prefix() -> None:
    message = parse_message(HELLO)

    assert message.kind is MessageKind.HELLO
    (endpoint,) = message.endpoints
    assert endpoint.types == (NETWORK_VIDEO_TRANSMITTER,)
    assert endpoint.xaddrs == ("http://10.20.0.12:8080/onvif/device_service",)
    assert decode_scopes(endpoint.scopes).name == "Gare"


def test_bye_names_the_endpoint_only() -> None:
    message = parse_message(BYE)

    assert message.kind is MessageKind.BYE
    assert message.endpoints == (Endpoint("urn:uuid:c0ffee00-0000-4000-8000-000000000001"),)


def test_a_prefix_means_what_its_nearest_declaration_says() -> None:
    # "x" is bound on the envelope to one namespace and re-bound on the match to another.
    data = (
        PROBE_MATCHES.replace(
            b'xmlns:tds="http://www.onvif.org/ver10/device/wsdl">',
            b'xmlns:tds="http://www.onvif.org/ver10/device/wsdl" xmlns:x="urn:wrong">',
        )
        .replace(
            b"<d:ProbeMatch>",
            b'<d:ProbeMatch xmlns:x="http://www.onvif.org/ver10/network/wsdl">',
        )
        .replace(b"dn:NetworkVideoTransmitter tds:Device", b"x:NetworkVideoTransmitter")
    )

    assert parse_message(data).endpoints[0].types == (NETWORK_VIDEO_TRANSMITTER,)


def test_built_messages_parse_back() -> None:
    endpoint = Endpoint(
        "urn:uuid:11111111-2222-4333-8444-555555555555",
        types=(*ONVIF_TYPES, QName("urn:acme:types", "Camera")),
        scopes=("onvif://www.onvif.org/name/A%26B", "onvif://www.onvif.org/location/x<y"),
        xaddrs=("http://10.0.0.1/onvif/device_service",),
        metadata_version=4,
    )
    probe = parse_message(build_probe("urn:uuid:probe-1", scopes=["onvif://www.onvif.org/name"]))
    matches = parse_message(build_probe_matches("urn:uuid:probe-1", [endpoint], (9, 2)))
    hello = parse_message(build_hello(endpoint, (9, 3)))
    bye = parse_message(build_bye(endpoint, (9, 4)))

    assert probe.kind is MessageKind.PROBE
    assert probe.message_id == "urn:uuid:probe-1"
    assert probe.probe_types == ONVIF_TYPES
    assert probe.probe_scopes == ("onvif://www.onvif.org/name",)
    assert matches.relates_to == "urn:uuid:probe-1"
    assert matches.endpoints == (endpoint,)
    assert matches.app_sequence == (9, 2)
    assert hello.endpoints == (endpoint,)
    assert hello.message_id != matches.message_id
    assert bye.endpoints == (Endpoint(endpoint.address),)
    assert decode_scopes(endpoint.scopes).name == "A&B"


@pytest.mark.parametrize(
    ("probe_scope", "device_scope", "match_by", "expected"),
    [
        (
            "onvif://www.onvif.org/location",
            "onvif://www.onvif.org/location/city/Millau",
            None,
            True,
        ),
        (
            "ONVIF://WWW.onvif.org/location/city",
            "onvif://www.onvif.org/location/city/x",
            None,
            True,
        ),
        ("onvif://www.onvif.org/location/cit", "onvif://www.onvif.org/location/city", None, False),
        ("onvif://www.onvif.org/name/a", "onvif://www.onvif.org/name/a", MATCH_BY_STRCMP0, True),
        ("onvif://www.onvif.org/name", "onvif://www.onvif.org/name/a", MATCH_BY_STRCMP0, False),
        ("onvif://www.onvif.org/name", "onvif://www.onvif.org/name/a", "urn:unknown-rule", False),
    ],
)
def test_scope_matching_rules(
    probe_scope: str, device_scope: str, match_by: str | None, expected: bool
) -> None:
    assert scope_matches(probe_scope, device_scope, match_by) is expected


def test_a_device_answers_a_probe_only_when_types_and_scopes_match() -> None:
    device = Endpoint(
        "urn:uuid:d", types=ONVIF_TYPES, scopes=("onvif://www.onvif.org/location/city/Millau",)
    )
    onvif = parse_message(build_probe("urn:uuid:1"))
    in_millau = parse_message(build_probe("urn:uuid:2", scopes=["onvif://www.onvif.org/location"]))
    elsewhere = parse_message(build_probe("urn:uuid:3", scopes=["onvif://www.onvif.org/name"]))
    printers = parse_message(build_probe("urn:uuid:4", types=[QName("urn:printers", "Printer")]))
    anything = parse_message(build_probe("urn:uuid:5", types=[]))

    assert probe_matches_endpoint(onvif, device)
    assert probe_matches_endpoint(in_millau, device)
    assert not probe_matches_endpoint(elsewhere, device)
    assert not probe_matches_endpoint(printers, device)
    assert probe_matches_endpoint(anything, device)


def test_one_bad_match_does_not_hide_the_others() -> None:
    good = Endpoint("urn:uuid:good", types=(NETWORK_VIDEO_TRANSMITTER,))
    data = build_probe_matches("urn:uuid:p", [good, Endpoint("urn:uuid:bad")], (1, 1))
    data = data.replace(b"<wsa:Address>urn:uuid:bad</wsa:Address>", b"")

    assert parse_message(data).endpoints == (good,)


BAD_DATAGRAMS = {
    "binary": b"\x00\x01\x02\xff",
    "empty": b"",
    "truncated": PROBE_MATCHES[:300],
    "entity declaration": b'<!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>',
    "not SOAP": b"<html><body>hello</body></html>",
    "SOAP 1.1": PROBE_MATCHES.replace(
        b"http://www.w3.org/2003/05/soap-envelope", b"http://schemas.xmlsoap.org/soap/envelope/"
    ),
    "no MessageID": PROBE_MATCHES.replace(b"MessageID", b"MessageName"),
    "no body": BYE.replace(b"<s:Body>", b"<s:Other>").replace(b"</s:Body>", b"</s:Other>"),
    "unknown body": BYE.replace(b"d:Bye", b"d:Resolve"),
    "Hello without address": HELLO.replace(b"a:Address", b"a:Adress"),
    "undeclared type prefix": HELLO.replace(b"x:NetworkVideoTransmitter", b"y:Transmitter"),
    "bad AppSequence": PROBE_MATCHES.replace(b'MessageNumber="7"', b'MessageNumber="seven"'),
}


@pytest.mark.parametrize("name", sorted(BAD_DATAGRAMS))
def test_bad_datagrams_are_refused_with_a_reason(
    name: str, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(WsdParseError):
        parse_message(BAD_DATAGRAMS[name])
    caplog.set_level("DEBUG", logger="cityhub.discovery.wsd")
    assert try_parse(BAD_DATAGRAMS[name], "10.0.0.9") is None
    assert "from 10.0.0.9" in caplog.text


def test_types_in_an_unknown_namespace_print_in_full() -> None:
    assert str(NETWORK_VIDEO_TRANSMITTER) == "dn:NetworkVideoTransmitter"
    assert str(QName("urn:acme", "Cam")) == "{urn:acme}Cam"
    assert QName(NS_DN, "NetworkVideoTransmitter") == NETWORK_VIDEO_TRANSMITTER
