"""The C part of cityhub, built when a C compiler and Python's headers are at hand.

Everything else is in pyproject.toml. ``cityhub.media._rtpvideo`` is optional: without it the
RTSP client uses the same logic in Python (``cityhub.media.rtp``), at about twice the CPU per
camera. ``.ci/bootstrap`` installs gcc and the headers, so a checkout made ready by it always
has the module, and the tests check that it does.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "cityhub.media._rtpvideo",
            ["cityhub/media/_rtpvideo.c"],
            extra_compile_args=["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
            optional=True,
        )
    ]
)
