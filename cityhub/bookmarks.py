"""Bookmarks: an agent marks an instant or a range of a camera's footage, from live or playback.

A bookmark has a name, a note and tags, and belongs to the camera's zone, so only agents who
see that zone see it. It is never edited: a wrong one is removed (marked so, with who and
when; the row stays, for the statistics and the audit trail) and made again. Adding and
removing fire ``bookmark.added`` / ``bookmark.removed`` with the agent's Context, which the
audit trail records.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

import attrs

from cityhub.api import Context
from cityhub.bus import EventBus
from cityhub.db import Database, format_utc, parse_utc

__all__ = [
    "EVENT_BOOKMARK_ADDED",
    "EVENT_BOOKMARK_REMOVED",
    "MAX_BOOKMARK_SPAN",
    "Bookmark",
    "BookmarkError",
    "Bookmarks",
]

EVENT_BOOKMARK_ADDED: Final = "bookmark.added"
EVENT_BOOKMARK_REMOVED: Final = "bookmark.removed"
MAX_BOOKMARK_SPAN: Final = timedelta(hours=24)
"""The longest range one bookmark may cover (a longer one is an export or a hold)."""
MAX_TAGS: Final = 10
MAX_TEXT: Final = {"name": 120, "note": 2000, "tag": 40}
MAX_LISTED: Final = 500
"""Most bookmarks one query returns."""


class BookmarkError(Exception):
    """A bookmark request cannot be honoured; the message says why."""


@attrs.frozen
class Bookmark:
    """One bookmark of a camera's footage."""

    id: int
    created_at: datetime
    author: str
    camera_id: str
    zone: str
    start: datetime
    end: datetime
    name: str
    note: str
    tags: tuple[str, ...]
    removed_at: datetime | None = None
    removed_by: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly rendering."""
        return {
            "id": self.id,
            "created_at": format_utc(self.created_at),
            "author": self.author,
            "camera_id": self.camera_id,
            "zone": self.zone,
            "start": format_utc(self.start),
            "end": format_utc(self.end),
            "name": self.name,
            "note": self.note,
            "tags": list(self.tags),
            "removed": None
            if self.removed_at is None
            else {"at": format_utc(self.removed_at), "by": self.removed_by},
        }


def _bookmark(row: sqlite3.Row) -> Bookmark:
    return Bookmark(
        id=int(row["id"]),
        created_at=parse_utc(row["created_at"]),
        author=row["author"],
        camera_id=row["camera_id"],
        zone=row["zone"],
        start=parse_utc(row["start_utc"]),
        end=parse_utc(row["end_utc"]),
        name=row["name"],
        note=row["note"],
        tags=tuple(json.loads(row["tags"])),
        removed_at=None if row["removed_at"] is None else parse_utc(row["removed_at"]),
        removed_by=row["removed_by"],
    )


def _text(value: str, field: str) -> str:
    text = value.strip()
    if len(text) > MAX_TEXT[field]:
        raise BookmarkError(f"the {field} is longer than {MAX_TEXT[field]} characters")
    return text


def _tags(tags: Sequence[str]) -> list[str]:
    cleaned: list[str] = []
    for tag in tags:
        text = _text(tag, "tag").lower()
        if text and text not in cleaned:
            cleaned.append(text)
    if len(cleaned) > MAX_TAGS:
        raise BookmarkError(f"give at most {MAX_TAGS} tags")
    return cleaned


class Bookmarks:
    """Adds, lists and removes bookmarks; runs in the loop."""

    def __init__(self, db: Database, bus: EventBus, camera_zones: dict[str, str]) -> None:
        self._db = db
        self._bus = bus
        self.camera_zones = camera_zones

    async def add(
        self,
        camera_id: str,
        start: datetime,
        context: Context,
        *,
        name: str,
        end: datetime | None = None,
        note: str = "",
        tags: Sequence[str] = (),
    ) -> Bookmark:
        """Bookmark ``camera_id`` at ``start`` (or over ``start``..``end``)."""
        zone = self.camera_zones.get(camera_id)
        if zone is None:
            raise BookmarkError(f"no camera {camera_id!r}")
        end = start if end is None else end
        if end < start:
            raise BookmarkError("the range ends before it starts")
        if end - start > MAX_BOOKMARK_SPAN:
            raise BookmarkError(
                "a bookmark covers at most 24 hours; for longer, place a hold or export"
            )
        label = _text(name, "name")
        if not label:
            raise BookmarkError("a bookmark needs a name")
        row = await self._db.fetchone(
            "INSERT INTO bookmarks (created_at, author, camera_id, zone, start_utc, end_utc,"
            " name, note, tags) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *",
            (format_utc(datetime.now().astimezone()), context.origin, camera_id, zone,
             format_utc(start), format_utc(end), label, _text(note, "note"),
             json.dumps(_tags(tags))),
        )  # fmt: skip
        assert row is not None
        bookmark = _bookmark(row)
        self._bus.async_fire(
            EVENT_BOOKMARK_ADDED,
            {"bookmark_id": bookmark.id, "camera_id": camera_id, "start": format_utc(start),
             "end": format_utc(end), "name": bookmark.name, "tags": list(bookmark.tags)},
            context,
        )  # fmt: skip
        return bookmark

    async def get(self, bookmark_id: int) -> Bookmark:
        """One bookmark by id; :class:`BookmarkError` if there is none."""
        row = await self._db.fetchone("SELECT * FROM bookmarks WHERE id = ?", (bookmark_id,))
        if row is None:
            raise BookmarkError(f"no bookmark {bookmark_id}")
        return _bookmark(row)

    async def list(
        self,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        cameras: Collection[str] | None = None,
        zones: Collection[str] | None = None,
        tag: str | None = None,
        removed: bool = False,
        limit: int = MAX_LISTED,
    ) -> list[Bookmark]:
        """Bookmarks overlapping ``start``..``end``, newest first, matching every filter."""
        rows = await self._db.fetchall(
            "SELECT * FROM bookmarks WHERE (:start IS NULL OR end_utc >= :start)"
            " AND (:end IS NULL OR start_utc < :end)"
            " AND (:cameras IS NULL OR camera_id IN (SELECT value FROM json_each(:cameras)))"
            " AND (:zones IS NULL OR zone IN (SELECT value FROM json_each(:zones)))"
            " AND (:tag IS NULL OR EXISTS (SELECT 1 FROM json_each(tags) WHERE value = :tag))"
            " AND (:removed OR removed_at IS NULL)"
            " ORDER BY start_utc DESC, id DESC LIMIT :limit",
            {
                "start": None if start is None else format_utc(start),
                "end": None if end is None else format_utc(end),
                "cameras": None if cameras is None else json.dumps(sorted(cameras)),
                "zones": None if zones is None else json.dumps(sorted(zones)),
                "tag": None if tag is None else tag.strip().lower(),
                "removed": removed,
                "limit": max(1, min(limit, MAX_LISTED)),
            },
        )
        return [_bookmark(row) for row in rows]

    async def remove(self, bookmark_id: int, context: Context) -> Bookmark:
        """Mark a bookmark removed (once); fires ``bookmark.removed``."""
        bookmark = await self.get(bookmark_id)
        if bookmark.removed_at is not None:
            raise BookmarkError(
                f"bookmark {bookmark_id} was already removed by {bookmark.removed_by} at "
                f"{format_utc(bookmark.removed_at)}"
            )
        await self._db.execute(
            "UPDATE bookmarks SET removed_at = ?, removed_by = ? WHERE id = ?",
            (format_utc(datetime.now().astimezone()), context.origin, bookmark_id),
        )
        self._bus.async_fire(
            EVENT_BOOKMARK_REMOVED,
            {"bookmark_id": bookmark_id, "camera_id": bookmark.camera_id, "name": bookmark.name},
            context,
        )
        return await self.get(bookmark_id)
