"""The ONVIF client library, imported without letting it set up logging.

onvif-zeep-async calls ``logging.basicConfig`` when imported: in a process that has not set up
logging yet (an embedding application, a test run), that would install a root handler of its
own, without the hub's redaction. The import runs with a placeholder handler on the root
logger so ``basicConfig`` finds one and does nothing.
"""

from __future__ import annotations

import logging

_placeholder = logging.NullHandler()
_root = logging.getLogger()
_root.addHandler(_placeholder)
try:
    from onvif import ONVIFCamera
    from onvif.exceptions import ONVIFAuthError, ONVIFError
finally:
    _root.removeHandler(_placeholder)

__all__ = ["ONVIFAuthError", "ONVIFCamera", "ONVIFError"]
