"""The simulator's Device service (ver10 device management)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cityhub.testing.onvif.soap import NAMESPACES, SoapFault, SoapRequest, esc, text, xbool

if TYPE_CHECKING:
    from cityhub.testing.onvif.simulator import OnvifSimulator

__all__ = ["DeviceService"]


class DeviceService:
    """GetSystemDateAndTime, GetDeviceInformation, GetCapabilities, GetServices and the rest
    a client reads before it steers a camera."""

    def __init__(self, sim: OnvifSimulator) -> None:
        self.sim = sim

    def GetSystemDateAndTime(self, request: SoapRequest) -> str:
        """The device clock in UTC (``clock_offset_s`` ahead of the host's)."""
        now = self.sim.device_time()
        utc = (
            f"<tt:Time><tt:Hour>{now.hour}</tt:Hour><tt:Minute>{now.minute}</tt:Minute>"
            f"<tt:Second>{now.second}</tt:Second></tt:Time>"
            f"<tt:Date><tt:Year>{now.year}</tt:Year><tt:Month>{now.month}</tt:Month>"
            f"<tt:Day>{now.day}</tt:Day></tt:Date>"
        )
        return (
            "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>"
            "<tt:DateTimeType>NTP</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings>"
            "<tt:TimeZone><tt:TZ>UTC0</tt:TZ></tt:TimeZone>"
            f"<tt:UTCDateTime>{utc}</tt:UTCDateTime><tt:LocalDateTime>{utc}</tt:LocalDateTime>"
            "</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>"
        )

    def GetDeviceInformation(self, request: SoapRequest) -> str:
        """Manufacturer, model, firmware, serial number and hardware id."""
        sim = self.sim
        return (
            "<tds:GetDeviceInformationResponse>"
            f"<tds:Manufacturer>{esc(sim.manufacturer)}</tds:Manufacturer>"
            f"<tds:Model>{esc(sim.model)}</tds:Model>"
            f"<tds:FirmwareVersion>{esc(sim.firmware)}</tds:FirmwareVersion>"
            f"<tds:SerialNumber>{esc(sim.serial)}</tds:SerialNumber>"
            f"<tds:HardwareId>{esc(sim.hardware_id)}</tds:HardwareId>"
            "</tds:GetDeviceInformationResponse>"
        )

    def GetCapabilities(self, request: SoapRequest) -> str:
        """The ver10 capabilities with each service's address."""
        sim = self.sim
        category = text(request.body, "Category") or "All"
        parts = {
            "Device": (
                f"<tt:Device><tt:XAddr>{sim.service_url('device')}</tt:XAddr>"
                "<tt:Network><tt:IPFilter>false</tt:IPFilter><tt:ZeroConfiguration>false"
                "</tt:ZeroConfiguration><tt:IPVersion6>false</tt:IPVersion6>"
                "<tt:DynDNS>false</tt:DynDNS></tt:Network>"
                "<tt:System><tt:DiscoveryResolve>true</tt:DiscoveryResolve>"
                "<tt:DiscoveryBye>true</tt:DiscoveryBye><tt:RemoteDiscovery>false"
                "</tt:RemoteDiscovery><tt:SystemBackup>false</tt:SystemBackup>"
                "<tt:SystemLogging>false</tt:SystemLogging><tt:FirmwareUpgrade>false"
                "</tt:FirmwareUpgrade><tt:SupportedVersions><tt:Major>2</tt:Major>"
                "<tt:Minor>60</tt:Minor></tt:SupportedVersions></tt:System>"
                "<tt:IO><tt:InputConnectors>1</tt:InputConnectors>"
                "<tt:RelayOutputs>0</tt:RelayOutputs></tt:IO>"
                "<tt:Security><tt:TLS1.1>false</tt:TLS1.1><tt:TLS1.2>false</tt:TLS1.2>"
                "<tt:OnboardKeyGeneration>false</tt:OnboardKeyGeneration>"
                "<tt:AccessPolicyConfig>false</tt:AccessPolicyConfig>"
                "<tt:X.509Token>false</tt:X.509Token><tt:SAMLToken>false</tt:SAMLToken>"
                "<tt:KerberosToken>false</tt:KerberosToken><tt:RELToken>false</tt:RELToken>"
                "</tt:Security></tt:Device>"
            ),
            "Events": (
                f"<tt:Events><tt:XAddr>{sim.service_url('events')}</tt:XAddr>"
                "<tt:WSSubscriptionPolicySupport>false</tt:WSSubscriptionPolicySupport>"
                "<tt:WSPullPointSupport>true</tt:WSPullPointSupport>"
                "<tt:WSPausableSubscriptionManagerInterfaceSupport>false"
                "</tt:WSPausableSubscriptionManagerInterfaceSupport></tt:Events>"
            ),
            "Media": (
                f"<tt:Media><tt:XAddr>{sim.service_url('media')}</tt:XAddr>"
                "<tt:StreamingCapabilities><tt:RTPMulticast>false</tt:RTPMulticast>"
                "<tt:RTP_TCP>true</tt:RTP_TCP><tt:RTP_RTSP_TCP>true</tt:RTP_RTSP_TCP>"
                "</tt:StreamingCapabilities></tt:Media>"
            ),
        }
        if sim.ptz:
            parts["PTZ"] = f"<tt:PTZ><tt:XAddr>{sim.service_url('ptz')}</tt:XAddr></tt:PTZ>"
        if category == "All":
            chosen = "".join(parts.values())
        elif category in parts:
            chosen = parts[category]
        else:
            raise SoapFault(
                f"capability category {category!r} is not supported",
                "ActionNotSupported",
                "NoSuchService",
                code="Receiver",
            )
        return (
            f"<tds:GetCapabilitiesResponse><tds:Capabilities>{chosen}"
            "</tds:Capabilities></tds:GetCapabilitiesResponse>"
        )

    def GetServices(self, request: SoapRequest) -> str:
        """Each service's namespace, address and version."""
        sim = self.sim
        services = [
            ("tds", "device", 2, 60),
            ("trt", "media", 2, 60),
            ("tr2", "media2", 2, 60),
            ("tev", "events", 2, 60),
        ]
        if sim.ptz:
            services.append(("tptz", "ptz", 2, 60))
        body = "".join(
            f"<tds:Service><tds:Namespace>{NAMESPACES[prefix]}</tds:Namespace>"
            f"<tds:XAddr>{sim.service_url(name)}</tds:XAddr>"
            f"<tds:Version><tt:Major>{major}</tt:Major><tt:Minor>{minor}</tt:Minor>"
            "</tds:Version></tds:Service>"
            for prefix, name, major, minor in services
        )
        return f"<tds:GetServicesResponse>{body}</tds:GetServicesResponse>"

    def GetServiceCapabilities(self, request: SoapRequest) -> str:
        """The device service's own capabilities."""
        return (
            "<tds:GetServiceCapabilitiesResponse><tds:Capabilities>"
            '<tds:Network IPFilter="false" ZeroConfiguration="false" IPVersion6="false"'
            ' DynDNS="false" NTP="1" HostnameFromDHCP="false"/>'
            '<tds:Security UsernameToken="true" HttpDigest="true"/>'
            '<tds:System DiscoveryResolve="true" DiscoveryBye="true" RemoteDiscovery="false"'
            ' SystemBackup="false" SystemLogging="false" FirmwareUpgrade="false"/>'
            "</tds:Capabilities></tds:GetServiceCapabilitiesResponse>"
        )

    def GetScopes(self, request: SoapRequest) -> str:
        """The device's ONVIF scopes (also what WS-Discovery announces)."""
        scopes = "".join(
            f"<tds:Scopes><tt:ScopeDef>Fixed</tt:ScopeDef><tt:ScopeItem>{esc(scope)}"
            "</tt:ScopeItem></tds:Scopes>"
            for scope in self.sim.scopes
        )
        return f"<tds:GetScopesResponse>{scopes}</tds:GetScopesResponse>"

    def GetHostname(self, request: SoapRequest) -> str:
        """The device's host name."""
        return (
            "<tds:GetHostnameResponse><tds:HostnameInformation><tt:FromDHCP>false</tt:FromDHCP>"
            f"<tt:Name>{esc(self.sim.hostname)}</tt:Name></tds:HostnameInformation>"
            "</tds:GetHostnameResponse>"
        )

    def GetNetworkInterfaces(self, request: SoapRequest) -> str:
        """One wired interface with the simulator's address and MAC."""
        sim = self.sim
        return (
            '<tds:GetNetworkInterfacesResponse><tds:NetworkInterfaces token="eth0">'
            "<tt:Enabled>true</tt:Enabled><tt:Info><tt:Name>eth0</tt:Name>"
            f"<tt:HwAddress>{sim.mac_address}</tt:HwAddress><tt:MTU>1500</tt:MTU></tt:Info>"
            f"<tt:IPv4><tt:Enabled>true</tt:Enabled><tt:Config><tt:Manual>"
            f"<tt:Address>{esc(sim.host)}</tt:Address><tt:PrefixLength>8</tt:PrefixLength>"
            f"</tt:Manual><tt:DHCP>{xbool(False)}</tt:DHCP></tt:Config></tt:IPv4>"
            "</tds:NetworkInterfaces></tds:GetNetworkInterfacesResponse>"
        )

    def GetNTP(self, request: SoapRequest) -> str:
        """NTP settings: from DHCP, no server (the simulator's clock is the host's)."""
        return (
            "<tds:GetNTPResponse><tds:NTPInformation><tt:FromDHCP>true</tt:FromDHCP>"
            "</tds:NTPInformation></tds:GetNTPResponse>"
        )

    def SystemReboot(self, request: SoapRequest) -> str:
        """Reboot: the device goes away for ``reboot_downtime_s`` and comes back."""
        self.sim.schedule_reboot(self.sim.reboot_downtime_s)
        return (
            "<tds:SystemRebootResponse><tds:Message>Rebooting</tds:Message>"
            "</tds:SystemRebootResponse>"
        )
