"""cityhub: an open-source hub for municipal video protection."""

__version__ = "0.1.0"
