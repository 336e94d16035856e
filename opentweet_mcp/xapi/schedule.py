"""Drafts and scheduled posts kept locally, and the scheduler that publishes them to X.

X has no scheduling API for this, so the posts live in SQLite in the state folder. The
scheduler publishes each due post at most once: it claims the post in a transaction (scheduled
→ publishing) before anything is sent, so two schedulers, or one restarted, never both send it.
A post claimed but left unfinished (the process stopped mid-thread) is taken up again after a
while, and its thread continues where it stopped (`ThreadLog`): nothing is posted twice. A post
found too late — past the grace period after its time — is marked `missed`, not published.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from opentweet_mcp.xapi.client import Posted, TweetSpec, XClient, XError

GRACE = 15 * 60.0  # seconds after its time a post may still go out
STALE_CLAIM = 10 * 60.0  # seconds after which an unfinished claim is taken up again

_SCHEMA = """
CREATE TABLE IF NOT EXISTS posts (
    id TEXT PRIMARY KEY,
    tweets TEXT NOT NULL,
    due REAL,
    status TEXT NOT NULL,
    claimed REAL,
    result TEXT
)
"""


class LocalSchedule:
    """The posts, in a SQLite file of the user's alone."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.clock = clock
        self._db = sqlite3.connect(path, timeout=30, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(_SCHEMA)
        path.chmod(0o600)

    def add(self, tweets: Sequence[TweetSpec], due: float | None = None) -> str:
        """A new post: a draft, or scheduled for `due` (epoch seconds)."""
        post_id = secrets.token_hex(12)
        status = "scheduled" if due is not None else "draft"
        self._db.execute(
            "INSERT INTO posts (id, tweets, due, status) VALUES (?, ?, ?, ?)",
            (post_id, json.dumps([asdict(t) for t in tweets]), due, status),
        )
        return post_id

    def get(self, post_id: str) -> dict[str, Any] | None:
        row = self._db.execute(
            "SELECT id, tweets, due, status, result FROM posts WHERE id = ?", (post_id,)
        ).fetchone()
        if row is None:
            return None
        return {
            "id": row[0],
            "tweets": json.loads(row[1]),
            "due": row[2],
            "status": row[3],
            "result": json.loads(row[4]) if row[4] else None,
        }

    def claim_due(self, grace: float = GRACE) -> tuple[list[dict[str, Any]], list[str]]:
        """The posts to publish now, each claimed for this caller alone, and the ids of those
        found too late (now marked `missed`). One transaction: a post is claimed once."""
        now = self.clock()
        self._db.execute("BEGIN IMMEDIATE")
        try:
            rows = self._db.execute(
                "SELECT id, due, status FROM posts WHERE (status = 'scheduled' AND due <= ?) "
                "OR (status = 'publishing' AND claimed <= ?)",
                (now, now - STALE_CLAIM),
            ).fetchall()
            claimed, missed = [], []
            for post_id, due, status in rows:
                if status == "scheduled" and now - due > grace:
                    self._db.execute("UPDATE posts SET status = 'missed' WHERE id = ?", (post_id,))
                    missed.append(post_id)
                else:
                    self._db.execute(
                        "UPDATE posts SET status = 'publishing', claimed = ? WHERE id = ?",
                        (now, post_id),
                    )
                    claimed.append(post_id)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        posts = [post for post in (self.get(post_id) for post_id in claimed) if post]
        return posts, missed

    def finish(self, post_id: str, status: str, result: Any) -> None:
        self._db.execute(
            "UPDATE posts SET status = ?, result = ? WHERE id = ?",
            (status, json.dumps(result), post_id),
        )

    def close(self) -> None:
        self._db.close()


def _tweet(fields: dict[str, Any]) -> TweetSpec:
    lists = {"media_ids": tuple(fields["media_ids"]), "poll_options": tuple(fields["poll_options"])}
    return TweetSpec(**(fields | lists))


async def publish_due(
    schedule: LocalSchedule, client: XClient, grace: float = GRACE
) -> dict[str, list[str]]:
    """One pass of the scheduler: every due post published once (threads continue where they
    stopped), the late ones marked missed. What happened, by outcome."""
    posts, missed = schedule.claim_due(grace)
    done: dict[str, list[str]] = {"posted": [], "failed": [], "missed": missed}
    for post in posts:
        tweets = [_tweet(fields) for fields in post["tweets"]]
        try:
            posted: list[Posted] = await client.post_thread(tweets, key=post["id"])
        except XError as exc:
            schedule.finish(post["id"], "failed", {"error": str(exc)})
            done["failed"].append(post["id"])
            continue
        schedule.finish(post["id"], "posted", [asdict(p) for p in posted])
        done["posted"].append(post["id"])
    return done
