"""Media2 privacy masks over plain SOAP (onvif-zeep-async ships no Media2 WSDL).

Four operations (GetMasks, CreateMask, SetMask, DeleteMask) of the ONVIF Media2 service, sent
as SOAP 1.2 with the same WS-Security UsernameToken digest as the rest of the driver.
Coordinates: ONVIF masks use the normalised space of the picture, x from -1 (left) to 1
(right) and y from -1 (bottom) to 1 (top); cityhub's :class:`PrivacyMask` uses 0..1 from the
top left corner, as the panel draws them. The conversion is exact both ways to
the sixth decimal (a millionth of the picture).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from lxml import etree
from zeep.exceptions import Fault
from zeep.wsse.username import UsernameToken

from cityhub.api import PrivacyMask
from cityhub_onvif.const import NS_MEDIA2, NS_SCHEMA
from cityhub_onvif.errors import OnvifError

NS_SOAP = "http://www.w3.org/2003/05/soap-envelope"
_NSMAP = {"env": NS_SOAP, "tr2": NS_MEDIA2, "tt": NS_SCHEMA}
DEFAULT_MASK_TYPE = "Color"
"""How new masks hide the picture: a solid colour, which every masking camera supports."""


def to_onvif(x: float, y: float) -> tuple[float, float]:
    """A point from cityhub's 0..1 top-left space to ONVIF's -1..1 bottom-left one."""
    return 2.0 * x - 1.0, 1.0 - 2.0 * y


def from_onvif(x: float, y: float) -> tuple[float, float]:
    """A point from ONVIF's -1..1 space to cityhub's 0..1 top-left one (to 6 decimals)."""
    return round((x + 1.0) / 2.0, 6), round((1.0 - y) / 2.0, 6)


def _q(prefix: str, name: str) -> str:
    return f"{{{_NSMAP[prefix]}}}{name}"


def _fault_from(body: Any) -> Fault | None:
    fault = body.find(_q("env", "Fault"))
    if fault is None:
        return None
    reason = fault.findtext(f"{_q('env', 'Reason')}/{_q('env', 'Text')}") or "SOAP fault"
    codes = [
        etree.QName(code.text.split(":")[-1])
        for code in fault.iter(_q("env", "Value"))
        if code.text
    ]
    code = codes[0].localname if codes else None
    return Fault(reason, code=code, subcodes=codes[1:])  # type: ignore[no-untyped-call]


class Media2Client:
    """Calls Media2 operations on one device's Media2 address.

    ``clock_offset`` gives the device's clock minus ours, which the UsernameToken's
    ``Created`` stamp follows (devices refuse stamps far from their own clock), as the ONVIF
    client does for the other services.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        address: str,
        username: str,
        password: str,
        timeout: float,
        clock_offset: Callable[[], timedelta | None] = lambda: None,
    ) -> None:
        self._session = session
        self._clock_offset = clock_offset
        self._address = address
        self._username = username
        self._password = password
        self._timeout = timeout

    async def async_call(self, operation: str, body: Any) -> Any:
        """Send ``body`` (a ``tr2:`` element) and return the response element; raises Fault."""
        envelope = etree.Element(_q("env", "Envelope"), nsmap=_NSMAP)
        etree.SubElement(envelope, _q("env", "Header"))
        etree.SubElement(envelope, _q("env", "Body")).append(body)
        created = datetime.now(UTC) + (self._clock_offset() or timedelta())
        token = UsernameToken(  # type: ignore[no-untyped-call]
            self._username, self._password, use_digest=True, created=created, zulu_timestamp=True
        )
        token.apply(envelope, {})  # type: ignore[no-untyped-call]
        data = etree.tostring(envelope, xml_declaration=True, encoding="utf-8")
        action = f"{NS_MEDIA2}/{operation}"
        headers = {"Content-Type": f'application/soap+xml; charset=utf-8; action="{action}"'}
        async with asyncio.timeout(self._timeout):
            async with self._session.post(self._address, data=data, headers=headers) as reply:
                content = await reply.read()
                status = reply.status
        try:
            root = etree.fromstring(content, parser=etree.XMLParser(resolve_entities=False))
        except etree.XMLSyntaxError as err:
            raise OnvifError(f"Media2 {operation}: HTTP {status}, not a SOAP answer") from err
        answer = root.find(_q("env", "Body"))
        if answer is None:
            raise OnvifError(f"Media2 {operation}: HTTP {status}, the answer has no SOAP body")
        fault = _fault_from(answer)
        if fault is not None:
            raise fault
        if len(answer) == 0:
            raise OnvifError(f"Media2 {operation}: empty SOAP body")
        return answer[0]

    async def async_get_masks(self) -> list[PrivacyMask]:
        """Every mask the device holds, in cityhub's coordinates."""
        response = await self.async_call("GetMasks", etree.Element(_q("tr2", "GetMasks")))
        masks = []
        for mask in response.findall(_q("tr2", "Masks")):
            points = []
            for point in mask.iterfind(f"{_q('tr2', 'Polygon')}/{_q('tt', 'Point')}"):
                x, y = float(point.get("x", "0")), float(point.get("y", "0"))
                points.append(from_onvif(x, y))
            enabled = (mask.findtext(_q("tr2", "Enabled")) or "true").strip().lower()
            masks.append(
                PrivacyMask(
                    token=mask.get("token", ""),
                    points=tuple(points),
                    enabled=enabled in ("true", "1"),
                )
            )
        return masks

    def _mask_element(self, mask: PrivacyMask, configuration: str, tag: str) -> Any:
        element = etree.Element(_q("tr2", tag))
        if mask.token:
            element.set("token", mask.token)
        etree.SubElement(element, _q("tr2", "ConfigurationToken")).text = configuration
        polygon = etree.SubElement(element, _q("tr2", "Polygon"))
        for x, y in mask.points:
            ox, oy = to_onvif(x, y)
            etree.SubElement(polygon, _q("tt", "Point"), x=f"{ox:.6g}", y=f"{oy:.6g}")
        etree.SubElement(element, _q("tr2", "Type")).text = DEFAULT_MASK_TYPE
        etree.SubElement(element, _q("tr2", "Enabled")).text = "true" if mask.enabled else "false"
        return element

    async def async_set_masks(self, masks: Sequence[PrivacyMask], configuration: str) -> None:
        """Make the device hold exactly ``masks`` on video source configuration ``configuration``.

        Masks whose token the device knows are updated, the others created, and the device's
        masks missing from ``masks`` deleted.
        """
        for mask in masks:
            if len(mask.points) < 3:
                raise ValueError(f"privacy mask {mask.token or '(new)'} needs at least 3 points")
            if not all(0.0 <= c <= 1.0 for point in mask.points for c in point):
                raise ValueError(
                    f"privacy mask {mask.token or '(new)'} has points outside 0..1 "
                    "(coordinates are fractions of the picture's width and height)"
                )
        existing = {m.token for m in await self.async_get_masks()}
        wanted = {m.token for m in masks if m.token}
        for token in sorted(existing - wanted):
            request = etree.Element(_q("tr2", "DeleteMask"))
            etree.SubElement(request, _q("tr2", "Token")).text = token
            await self.async_call("DeleteMask", request)
        for mask in masks:
            if mask.token in existing:
                request = etree.Element(_q("tr2", "SetMask"))
                request.append(self._mask_element(mask, configuration, "Mask"))
                await self.async_call("SetMask", request)
            else:
                request = etree.Element(_q("tr2", "CreateMask"))
                new = PrivacyMask(token="", points=mask.points, enabled=mask.enabled)
                request.append(self._mask_element(new, configuration, "Mask"))
                await self.async_call("CreateMask", request)
