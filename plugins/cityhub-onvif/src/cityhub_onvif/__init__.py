"""cityhub-onvif: ONVIF cameras (Profile S, T and their PTZ, events and masks)."""

__version__ = "0.1.0"
