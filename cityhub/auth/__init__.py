"""Who may do what, and the record of what was done: the audit log (users and roles to come)."""

from __future__ import annotations
