"""SQLite persistence for the sandbox: users, posts, uploads, evergreen history, counters and
the log of requests received. Documents are JSON in a few small tables; one connection, one
lock, so the simulator stays simple and its state survives restarts when given a file."""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import threading
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (key_hash TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS posts (
    id TEXT PRIMARY KEY, user TEXT NOT NULL, seq INTEGER NOT NULL, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS posts_user ON posts (user, seq);
CREATE TABLE IF NOT EXISTS uploads (name TEXT PRIMARY KEY, content_type TEXT, data BLOB);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS requests (seq INTEGER PRIMARY KEY AUTOINCREMENT, doc TEXT NOT NULL);
"""


def new_id() -> str:
    """A 24-hex ObjectId-shaped id."""
    return secrets.token_hex(12)


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class Store:
    def __init__(self, path: str = ":memory:") -> None:
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        # Every statement commits on its own; with the default rollback journal each commit of
        # a file database waits for fsync (~4 ms a request, as every request is logged). WAL
        # with synchronous=NORMAL stays consistent after a crash and syncs at checkpoints.
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._lock = threading.RLock()
        self._db.executescript(SCHEMA)
        self._seq = self._scalar("SELECT COALESCE(MAX(seq), 0) FROM posts")

    def _scalar(self, sql: str, *args: Any) -> int:
        with self._lock:
            row = self._db.execute(sql, args).fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def reset(self) -> None:
        with self._lock:
            for table in ("users", "posts", "uploads", "counters", "requests"):
                self._db.execute(f"DELETE FROM {table}")
            self._seq = 0

    # users
    def user(self, digest: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._db.execute("SELECT doc FROM users WHERE key_hash=?", (digest,)).fetchone()
        return json.loads(found[0]) if found else None

    def users(self) -> list[tuple[str, dict[str, Any]]]:
        with self._lock:
            rows = self._db.execute("SELECT key_hash, doc FROM users").fetchall()
        return [(row[0], json.loads(row[1])) for row in rows]

    def save_user(self, digest: str, doc: dict[str, Any]) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO users VALUES (?, ?)", (digest, json.dumps(doc))
            )

    def delete_user(self, digest: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM users WHERE key_hash=?", (digest,))

    # posts
    def save_post(self, user: str, post: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            seq = self._scalar("SELECT seq FROM posts WHERE id=?", post["id"])
            if not seq:
                self._seq += 1
                seq = self._seq
            self._db.execute(
                "INSERT OR REPLACE INTO posts VALUES (?, ?, ?, ?)",
                (post["id"], user, seq, json.dumps(post)),
            )
        return post

    def post(self, user: str, post_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT doc FROM posts WHERE id=? AND user=?", (post_id, user)
            ).fetchone()
        return json.loads(row[0]) if row else None

    def posts(self, user: str) -> list[dict[str, Any]]:
        """All of a user's posts, newest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT doc FROM posts WHERE user=? ORDER BY seq DESC", (user,)
            ).fetchall()
        return [json.loads(r[0]) for r in rows]

    def posts_page(self, user: str, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        """One page of a user's posts, newest first, and how many there are in all: read
        from SQLite page by page, so listing stays cheap however many posts a user has."""
        with self._lock:
            total = self._scalar("SELECT COUNT(*) FROM posts WHERE user=?", user)
            rows = self._db.execute(
                "SELECT doc FROM posts WHERE user=? ORDER BY seq DESC LIMIT ? OFFSET ?",
                (user, limit, offset),
            ).fetchall()
        return [json.loads(r[0]) for r in rows], total

    def delete_post(self, user: str, post_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM posts WHERE id=? AND user=?", (post_id, user))

    # uploads
    def save_upload(self, name: str, content_type: str, data: bytes) -> None:
        with self._lock:
            self._db.execute("INSERT INTO uploads VALUES (?, ?, ?)", (name, content_type, data))

    def upload(self, name: str) -> tuple[str, bytes] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT content_type, data FROM uploads WHERE name=?", (name,)
            ).fetchone()
        return (row[0], bytes(row[1])) if row else None

    # counters (daily quotas)
    def count(self, name: str) -> int:
        return self._scalar("SELECT value FROM counters WHERE name=?", name)

    def bump(self, name: str, amount: int = 1) -> int:
        with self._lock:
            self._db.execute(
                "INSERT INTO counters VALUES (?, ?) "
                "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
                (name, amount),
            )
            return self.count(name)

    # the request log
    def log_request(self, entry: dict[str, Any]) -> int:
        with self._lock:
            cursor = self._db.execute("INSERT INTO requests (doc) VALUES (?)", (json.dumps(entry),))
            return int(cursor.lastrowid or 0)

    def update_request(self, seq: int, **changes: Any) -> None:
        with self._lock:
            row = self._db.execute("SELECT doc FROM requests WHERE seq=?", (seq,)).fetchone()
            if row:
                doc = json.loads(row[0]) | changes
                self._db.execute("UPDATE requests SET doc=? WHERE seq=?", (json.dumps(doc), seq))

    def requests(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT doc FROM requests ORDER BY seq").fetchall()
        return [json.loads(r[0]) for r in rows]
