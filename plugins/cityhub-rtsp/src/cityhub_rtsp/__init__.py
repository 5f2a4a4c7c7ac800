"""cityhub-rtsp: generic RTSP cameras."""

__version__ = "0.1.0"
