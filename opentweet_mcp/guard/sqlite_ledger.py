"""`Ledger` in a SQLite file, so processes on one machine share single-use nonces, idempotency
results and daily budgets without Redis.

`opentweet-mcp call` runs one process per tool call: with an in-memory ledger a confirmation
token replayed by a later `call` would act again, and a daily publish limit or idempotency key
would last one call. Each operation is one `BEGIN IMMEDIATE` transaction, so it is atomic
across processes; expiry is wall-clock time, which every process shares.
"""

import hashlib
import os
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from opentweet_mcp.guard.ledger import check_amount, check_ttl

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    expires_at REAL NOT NULL
)
"""


def state_folder() -> Path:
    """$XDG_STATE_HOME/opentweet-mcp, else ~/.local/state/opentweet-mcp."""
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "opentweet-mcp"


def default_path(base_url: str) -> Path:
    """Where the server and `call` keep the ledger for one API root: one file per root in the
    state folder, so a key replayed against another deployment (staging, production) never
    finds this one's results."""
    root = hashlib.sha256(base_url.rstrip("/").encode()).hexdigest()[:16]
    return state_folder() / f"ledger-{root}.sqlite3"


class SqliteLedger:
    """Raises OSError or sqlite3.Error when the file cannot be made or is not a database."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        # Results may hold post texts: the folder and the file are the user's alone.
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
        self._clock = clock
        self.identity = f"sqlite:{path.resolve()}"
        self._db = sqlite3.connect(path, timeout=30, isolation_level=None)
        try:
            self._db.execute(_SCHEMA)
            self._write_ahead()
        except sqlite3.Error:
            self._db.close()
            raise

    def _write_ahead(self) -> None:
        """WAL with synchronous=NORMAL: a commit no longer waits for the disk (a bulk approval
        makes a few hundred), a crashed process loses nothing, and a power cut may lose the
        last commits but never the file. Switching needs the file to itself for a moment, and
        fails at once rather than waiting while another process writes: try again a while
        (until then the rollback journal serves, as correctly, only slower). The mode stays
        with the file, so this happens once per file."""
        for _ in range(200):
            try:
                if self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal":
                    break
            except sqlite3.OperationalError:  # locked by another process's transaction
                pass
            time.sleep(0.01)
        self._db.execute("PRAGMA synchronous=NORMAL")

    def _begin(self) -> float:
        """Open a write transaction (other processes wait) and drop what has expired."""
        self._db.execute("BEGIN IMMEDIATE")
        now = self._clock()
        self._db.execute("DELETE FROM entries WHERE expires_at <= ?", (now,))
        return now

    def _value(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM entries WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _set(self, key: str, value: str, expires_at: float) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO entries (key, value, expires_at) VALUES (?, ?, ?)",
            (key, value, expires_at),
        )

    def __len__(self) -> int:
        """Live entries."""
        with self._db:
            self._begin()
            return int(self._db.execute("SELECT COUNT(*) FROM entries").fetchone()[0])

    def close(self) -> None:
        self._db.close()

    async def aclose(self) -> None:
        self.close()

    async def claim(self, key: str, ttl: float, value: str = "1") -> bool:
        return await self.claim_all((key,), ttl, value)

    async def claim_all(self, keys: Sequence[str], ttl: float, value: str = "1") -> bool:
        check_ttl(ttl)
        with self._db:
            now = self._begin()
            if any(self._value(key) is not None for key in keys):
                return False
            for key in keys:
                self._set(key, value, now + ttl)
            return True

    async def put_result(self, key: str, value: str, ttl: float) -> None:
        check_ttl(ttl)
        with self._db:
            self._set(key, value, self._begin() + ttl)

    async def get_result(self, key: str) -> str | None:
        with self._db:
            self._begin()
            return self._value(key)

    async def delete(self, *keys: str) -> None:
        with self._db:
            self._begin()
            self._db.executemany("DELETE FROM entries WHERE key = ?", [(key,) for key in keys])

    async def reserve(self, counter_key: str, amount: int, limit: int, ttl: float) -> int | None:
        check_ttl(ttl)
        check_amount(amount)
        with self._db:
            now = self._begin()
            current = self._value(counter_key)
            total = (int(current) if current is not None else 0) + amount
            if total > limit:
                return None
            if current is None:
                self._set(counter_key, str(total), now + ttl)
            else:  # a counter keeps the expiry it was created with
                self._db.execute(
                    "UPDATE entries SET value = ? WHERE key = ?", (str(total), counter_key)
                )
            return total

    async def release(self, counter_key: str, amount: int) -> None:
        check_amount(amount)
        with self._db:
            self._begin()
            current = self._value(counter_key)
            if current is not None:
                left = str(max(0, int(current) - amount))
                self._db.execute("UPDATE entries SET value = ? WHERE key = ?", (left, counter_key))

    async def scan(self, prefix: str) -> list[tuple[str, str]]:
        pattern = prefix.replace("!", "!!").replace("%", "!%").replace("_", "!_") + "%"
        with self._db:
            self._begin()
            rows = self._db.execute(
                "SELECT key, value FROM entries WHERE key LIKE ? ESCAPE '!' ORDER BY key",
                (pattern,),
            ).fetchall()
        return [(str(key), str(value)) for key, value in rows]

    async def peek(self, counter_key: str) -> int:
        with self._db:
            self._begin()
            current = self._value(counter_key)
            return int(current) if current is not None else 0
