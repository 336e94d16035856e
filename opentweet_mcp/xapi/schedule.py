"""Drafts and scheduled posts kept locally, and the scheduler that publishes them to X.

X has no scheduling API for this, so the posts live in SQLite in the state folder. Every
publish — now, or by the scheduler — first claims the post in one statement (to `publishing`,
only from an unpublished status, and only if its content is still what was read and approved),
so two processes, or one restarted, never both send it, nor send an edit nobody approved. A
claim is renewed before every upload and tweet; one left unrenewed for STALE_CLAIM (the
process stopped mid-thread) is marked failed, with what is on X: publishing it again needs a
new approval, and its thread then continues where it stopped (`ThreadLog`), never posting a
tweet twice. A post
found too late — past the grace period after its time — is marked `missed`, not published.
Each pass of a scheduler is noted (`beat`), so a tool can tell when none is running.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

GRACE = 15 * 60.0  # seconds after its time a post may still go out
STALE_CLAIM = 10 * 60.0  # seconds without progress after which a claim is taken as abandoned
PASS_EVERY = 30.0  # seconds between a scheduler's passes
ALIVE = 3 * PASS_EVERY  # a scheduler that has not passed for this long is taken as stopped
# statuses a post may be published or changed from: not on X, not on its way there
ARMABLE = ("draft", "scheduled", "failed", "missed")
_ARMABLE_SQL = "(" + ", ".join(f"'{status}'" for status in ARMABLE) + ")"

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS posts (
        id TEXT PRIMARY KEY,
        fields TEXT NOT NULL,
        due REAL,
        retry_at REAL,
        status TEXT NOT NULL,
        claimed REAL,
        owner TEXT,
        result TEXT,
        created REAL NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS posts_created ON posts (created)",
    "CREATE TABLE IF NOT EXISTS beats (name TEXT PRIMARY KEY, at REAL NOT NULL)",
)


_COLUMNS = {"owner": "TEXT", "retry_at": "REAL"}


class LocalSchedule:
    """The posts, in a SQLite file of the user's alone. A post is its fields (text, thread,
    media, poll…), a status, a due time for a scheduled one, and what publishing it left
    (tweets on X, or the error)."""

    def __init__(self, path: Path | str, clock: Callable[[], float] = time.time) -> None:
        if path != ":memory:":
            Path(path).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.path = path
        self.clock = clock
        self._db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        for statement in _SCHEMA:
            self._db.execute(statement)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(posts)")}
        for column in ("owner", "retry_at"):  # a store from before these existed
            if column not in columns:
                self._db.execute(f"ALTER TABLE posts ADD COLUMN {column} {_COLUMNS[column]}")
        if path != ":memory:":
            Path(path).chmod(0o600)

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def add(self, fields: Mapping[str, Any], due: float | None = None) -> str:
        """A new post: a draft, or scheduled for `due` (epoch seconds). Its id has the shape
        of OpenTweet's (24 hex digits), so every tool takes it alike."""
        post_id = secrets.token_hex(12)
        status = "scheduled" if due is not None else "draft"
        self._db.execute(
            "INSERT INTO posts (id, fields, due, status, created) VALUES (?, ?, ?, ?, ?)",
            (post_id, _json(fields), due, status, self.clock()),
        )
        return post_id

    def get(self, post_id: str) -> dict[str, Any] | None:
        rows = self._rows("WHERE id = ?", (post_id,))
        return rows[0] if rows else None

    def page(self, status: str | None, offset: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        """Newest first, of one status or all; and how many there are in all."""
        offset = min(offset, 2**62)  # past any post, within SQLite's integers
        where, args = ("WHERE status = ?", (status,)) if status else ("", ())
        total = self._db.execute(f"SELECT COUNT(*) FROM posts {where}", args).fetchone()[0]
        rows = self._rows(f"{where} ORDER BY created DESC LIMIT ? OFFSET ?", (*args, limit, offset))
        return rows, int(total)

    def _rows(self, clause: str, args: tuple[Any, ...]) -> list[dict[str, Any]]:
        found = self._db.execute(
            f"SELECT id, fields, due, status, result, created, retry_at FROM posts {clause}", args
        ).fetchall()
        return [
            {
                "id": row[0],
                "fields": json.loads(row[1]),
                "due": row[2],
                "status": row[3],
                "result": json.loads(row[4]) if row[4] else None,
                "created": row[5],
                "retry_at": row[6],
            }
            for row in found
        ]

    def change(
        self,
        post_id: str,
        fields: Mapping[str, Any],
        due: float | None,
        status: str,
        expected: Mapping[str, Any] | None = None,
    ) -> bool:
        """Replace a post's fields, due time and status, if it is still unpublished (and, given
        `expected`, still holds those fields). What an earlier attempt left (tweets on X, the
        error) stays: the thread continues from it."""
        changed = self._db.execute(
            # a wait X asked for stays while the time does; the last attempt's error goes
            "UPDATE posts SET fields = ?, due = ?, status = ?, "
            "retry_at = CASE WHEN due IS ? THEN retry_at END, "
            "result = CASE WHEN result IS NULL THEN NULL ELSE json_remove(result, '$.error') END "
            f"WHERE id = ? AND status IN {_ARMABLE_SQL} AND fields = coalesce(?, fields)",
            (_json(fields), due, status, due, post_id, _json(expected)),
        )
        return changed.rowcount == 1

    def claim(self, post_id: str, expected: Mapping[str, Any] | None = None) -> str | None:
        """Take an unpublished post for publishing now (a publish someone approved; given
        `expected`, only while it holds those fields): the claim's owner token, for exactly
        one caller; else None."""
        owner = secrets.token_hex(8)
        taken = self._db.execute(
            "UPDATE posts SET status = 'publishing', claimed = ?, owner = ? "
            f"WHERE id = ? AND status IN {_ARMABLE_SQL} AND fields = coalesce(?, fields)",
            (self.clock(), owner, post_id, _json(expected)),
        )
        return owner if taken.rowcount == 1 else None

    def claim_due(self, post_id: str, grace: float = GRACE) -> str | None:
        """Take a scheduled post for the scheduler, only while it is still due and within the
        grace after the time it was approved for (it may have been rescheduled meanwhile)."""
        owner, now = secrets.token_hex(8), self.clock()
        taken = self._db.execute(
            "UPDATE posts SET status = 'publishing', claimed = ?, owner = ? "
            "WHERE id = ? AND status = 'scheduled' AND coalesce(retry_at, due) <= ? "
            "AND ? - due <= ?",
            (now, owner, post_id, now, now, grace),
        )
        return owner if taken.rowcount == 1 else None

    def touch(self, post_id: str, owner: str) -> bool:
        """The claim's owner is making progress: renewed, and True, while the claim is still
        `owner`'s; False once it is not (taken as abandoned meanwhile)."""
        renewed = self._db.execute(
            "UPDATE posts SET claimed = ? WHERE id = ? AND status = 'publishing' AND owner = ?",
            (self.clock(), post_id, owner),
        )
        return renewed.rowcount == 1

    def due(self, grace: float = GRACE) -> tuple[list[str], list[str]]:
        """The scheduled posts due now, oldest first, and those found too late (now marked
        `missed`, in one transaction)."""
        now = self.clock()
        with self._transaction():  # due: at its time, or X's retry; late: after the approved
            rows = self._db.execute(
                "SELECT id, due FROM posts WHERE status = 'scheduled' "
                "AND coalesce(retry_at, due) <= ? ORDER BY due",
                (now,),
            ).fetchall()
            missed = [post_id for post_id, due in rows if now - due > grace]
            for post_id in missed:
                self._db.execute("UPDATE posts SET status = 'missed' WHERE id = ?", (post_id,))
        return [post_id for post_id, _ in rows if post_id not in missed], missed

    def release_stale(self) -> list[str]:
        """Claims not renewed for STALE_CLAIM (their process stopped), now `failed` with no
        owner: whoever finds them writes what is on X. Asked on every call of the X provider,
        so it takes the write lock only when there is one to free."""
        stale = "SELECT id FROM posts WHERE status = 'publishing' AND claimed <= ?"
        cutoff = (self.clock() - STALE_CLAIM,)
        if self._db.execute(stale, cutoff).fetchone() is None:
            return []
        with self._transaction():
            rows = self._db.execute(stale, cutoff).fetchall()
            for (post_id,) in rows:
                self._db.execute(
                    "UPDATE posts SET status = 'failed', owner = NULL WHERE id = ?", (post_id,)
                )
        return [post_id for (post_id,) in rows]

    def finish(
        self,
        post_id: str,
        owner: str | None,
        status: str,
        result: Any,
        retry_at: float | None = None,
    ) -> bool:
        """What publishing a claimed post came to: posted, failed, missed, or scheduled again
        to be retried at `retry_at` (its approved time kept: the grace counts from that);
        written only while the claim is still `owner`'s (None: an abandoned claim, written by
        whoever found it so)."""
        changed = self._db.execute(
            "UPDATE posts SET status = ?, result = ?, retry_at = ?, owner = NULL "
            "WHERE id = ? AND owner IS ?",
            (status, json.dumps(result), retry_at, post_id, owner),
        )
        return changed.rowcount == 1

    def note(self, post_id: str, result: Any) -> None:
        """What is on X of a post, after a deletion took part of it off."""
        self._db.execute("UPDATE posts SET result = ? WHERE id = ?", (json.dumps(result), post_id))

    def delete(self, post_id: str) -> bool:
        """Forget a post, unless it is being published this moment."""
        gone = self._db.execute(
            "DELETE FROM posts WHERE id = ? AND status != 'publishing'", (post_id,)
        )
        return gone.rowcount == 1

    def beat(self) -> None:
        """A scheduler passed now."""
        self._db.execute(
            "INSERT INTO beats (name, at) VALUES ('scheduler', ?) "
            "ON CONFLICT (name) DO UPDATE SET at = excluded.at",
            (self.clock(),),
        )

    def scheduler_running(self) -> bool:
        row = self._db.execute("SELECT at FROM beats WHERE name = 'scheduler'").fetchone()
        return row is not None and self.clock() - row[0] < ALIVE

    def close(self) -> None:
        self._db.close()


def _json(fields: Mapping[str, Any] | None) -> str | None:
    """Fields as the store keeps them (what `add` and `change` write), for comparing."""
    return None if fields is None else json.dumps(dict(fields))
