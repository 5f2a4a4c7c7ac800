"""Storage backends shipped with cityhub; others come from plugins through the same hook."""

from __future__ import annotations

from cityhub.storage.local import InvalidKeyError, LocalStorage

__all__ = ["InvalidKeyError", "LocalStorage"]
