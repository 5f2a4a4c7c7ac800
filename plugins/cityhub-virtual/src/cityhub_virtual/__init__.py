"""Virtual cameras for cityhub: the reference example of a camera driver plugin."""

__version__ = "0.1.0"
