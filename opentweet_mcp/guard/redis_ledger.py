"""`Ledger` in Redis, so several replicas share single-use nonces, idempotency results and
daily budgets: a token confirmed on one replica is spent on all.

Loaded only when OPENTWEET_MCP_REDIS_URL is set; needs the `redis` extra
(`pip install 'opentweet-mcp[redis]'`). Each operation is one Redis command or one Lua script,
so it stays atomic across processes.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Any

import redis.asyncio as redis

from opentweet_mcp.guard.ledger import check_amount, check_ttl

_RESERVE = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local total = current + tonumber(ARGV[1])
if total > tonumber(ARGV[2]) then return -1 end
redis.call('INCRBY', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return total
"""
_CLAIM_ALL = """
for _, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then return 0 end
end
for _, key in ipairs(KEYS) do redis.call('SET', key, ARGV[1], 'PX', ARGV[2]) end
return 1
"""
_RELEASE = """
local current = tonumber(redis.call('GET', KEYS[1]) or '-1')
if current < 0 then return 0 end
local left = math.max(0, current - tonumber(ARGV[1]))
redis.call('SET', KEYS[1], left, 'KEEPTTL')
return left
"""


def _ms(ttl: float) -> int:
    check_ttl(ttl)
    return max(1, int(ttl * 1000))


class RedisLedger:
    def __init__(self, url: str, prefix: str = "opentweet-mcp:") -> None:
        # replicas configured with one Redis share it; the URL may hold a password: hashed
        self.identity = "redis:" + hashlib.sha256(f"{url}|{prefix}".encode()).hexdigest()
        self._redis: Any = redis.from_url(url, decode_responses=True)
        self._prefix = prefix
        self._reserve = self._redis.register_script(_RESERVE)
        self._claim_all = self._redis.register_script(_CLAIM_ALL)
        self._release = self._redis.register_script(_RELEASE)

    def _key(self, key: str) -> str:
        return self._prefix + key

    async def claim(self, key: str, ttl: float, value: str = "1") -> bool:
        return bool(await self._redis.set(self._key(key), value, nx=True, px=_ms(ttl)))

    async def claim_all(self, keys: Sequence[str], ttl: float, value: str = "1") -> bool:
        claimed = await self._claim_all(keys=[self._key(k) for k in keys], args=[value, _ms(ttl)])
        return bool(int(claimed))

    async def put_result(self, key: str, value: str, ttl: float) -> None:
        await self._redis.set(self._key(key), value, px=_ms(ttl))

    async def get_result(self, key: str) -> str | None:
        value = await self._redis.get(self._key(key))
        return None if value is None else str(value)

    async def delete(self, *keys: str) -> None:
        if keys:
            await self._redis.delete(*(self._key(key) for key in keys))

    async def reserve(self, counter_key: str, amount: int, limit: int, ttl: float) -> int | None:
        check_amount(amount)
        total = int(
            await self._reserve(keys=[self._key(counter_key)], args=[amount, limit, _ms(ttl)])
        )
        return None if total < 0 else total

    async def release(self, counter_key: str, amount: int) -> None:
        check_amount(amount)
        await self._release(keys=[self._key(counter_key)], args=[amount])

    async def peek(self, counter_key: str) -> int:
        value = await self._redis.get(self._key(counter_key))
        return int(value) if value is not None else 0

    async def scan(self, prefix: str) -> list[tuple[str, str]]:
        pattern = re.sub(r"([*?\[\]\\])", r"\\\1", self._key(prefix)) + "*"
        keys = [key async for key in self._redis.scan_iter(match=pattern, count=500)]
        values = await self._redis.mget(keys) if keys else []
        start = len(self._prefix)
        return sorted(
            (str(key)[start:], str(value))
            for key, value in zip(keys, values, strict=True)
            if value is not None
        )

    async def aclose(self) -> None:
        await self._redis.aclose()
