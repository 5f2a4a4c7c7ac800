"""Who may do what, and the record of what was done: accounts, roles and zone scopes,
sessions, and the hash-chained audit log."""

from __future__ import annotations
