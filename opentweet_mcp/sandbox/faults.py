"""Fault injection and the request log, as ASGI middleware in front of the simulated API.

Every /api/ request is logged (method, path, query, JSON body, key prefix, status, whether it
was processed) so tests can assert what reached the upstream. A matching fault rule can answer
with a chosen status, delay, drop the connection before or after processing, or send a
malformed, empty or wrong-shaped body. A dropped connection is made real: the response
declares more bytes than it sends and ends, so the client sees the connection close mid-body.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from opentweet_mcp.sandbox.store import Store

ACTIONS = (
    "status",
    "delay",
    "reset_before",
    "reset_after",
    "malformed",
    "empty",
    "wrong_shape",
    "echo_auth",
)


@dataclass
class Fault:
    action: str
    path: str = ""
    method: str | None = None
    times: int = 1
    status: int | None = None
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method.upper() != method:
            return False
        return path.startswith(self.path) or bool(re.fullmatch(self.path, path))

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Fault:
        action = raw.get("action")
        if action is None:
            action = next((a for a in ACTIONS if raw.get(a) not in (None, False)), None)
            if action is None and "status" in raw:
                action = "status"
        if action not in ACTIONS:
            raise ValueError(f"fault needs one action of {', '.join(ACTIONS)}")
        delay = raw.get("delay", 0.0)
        return cls(
            action=action,
            path=str(raw.get("path", "")),
            method=raw.get("method"),
            times=int(raw.get("times", 1)),
            status=raw.get("status") if isinstance(raw.get("status"), int) else None,
            body=raw.get("body"),
            headers=dict(raw.get("headers") or {}),
            delay=float(delay) if not isinstance(delay, bool) else 0.0,
        )


class Faults:
    """The active fault rules; each rule affects `times` matching requests, then retires."""

    def __init__(self) -> None:
        self._rules: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._rules.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def take(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for rule in self._rules:
                if rule.matches(method, path):
                    rule.times -= 1
                    if rule.times <= 0:
                        self._rules.remove(rule)
                    return rule
        return None


async def _respond(send: Send, status: int, body: bytes, headers: dict[str, str]) -> None:
    raw_headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    raw_headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})


async def _drop(send: Send) -> None:
    """Promise a body, send part of it, stop: the client sees the connection close."""
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")],
        }
    )
    await send({"type": "http.response.body", "body": b'{"partial": ', "more_body": False})


class FaultsAndLog:
    def __init__(self, app: ASGIApp, store: Store, faults: Faults) -> None:
        self.app = app
        self.store = store
        self.faults = faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        headers = dict(scope.get("headers") or [])
        auth = headers.get(b"authorization", b"").decode("latin-1")
        key = auth[7:] if auth.lower().startswith("bearer ") else ""
        try:
            parsed: Any = json.loads(body) if body else None
        except ValueError:
            parsed = None if b"multipart" in headers.get(b"content-type", b"") else "<invalid>"
        seq = self.store.log_request(
            {
                "method": scope["method"],
                "path": scope["path"],
                "query": scope.get("query_string", b"").decode(),
                "body": parsed,
                "key_prefix": key[: max(0, min(len(key) - 4, 12))],
                "status": None,
                "processed": False,
            }
        )
        fault = self.faults.take(scope["method"], scope["path"])
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return {"type": "http.disconnect"}
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        if fault is not None and fault.action == "delay":
            await asyncio.sleep(fault.delay)
            fault = None
        if fault is not None and fault.action in ("status", "echo_auth", "reset_before"):
            await self._answer_without_processing(fault, seq, auth, send)
            return

        captured: list[Message] = []

        async def capture(message: Message) -> None:
            if fault is None:
                if message["type"] == "http.response.start":
                    self.store.update_request(seq, status=message["status"])
                await send(message)
            else:
                captured.append(message)

        await self.app(scope, replay, capture)
        self.store.update_request(seq, processed=True)
        if fault is None:
            return
        if fault.action == "reset_after":
            self.store.update_request(seq, status="reset")
            await _drop(send)
            return
        payload = {"malformed": b'{"success": true, "post": {', "empty": b"", "wrong_shape": b"[]"}
        self.store.update_request(seq, status=200)
        await _respond(send, 200, payload[fault.action], {"content-type": "application/json"})

    async def _answer_without_processing(
        self, fault: Fault, seq: int, auth: str, send: Send
    ) -> None:
        if fault.action == "reset_before":
            self.store.update_request(seq, status="reset")
            await _drop(send)
            return
        status = fault.status or 500
        if fault.action == "echo_auth":
            content: Any = {"error": f"upstream debug: received Authorization: {auth}"}
        else:
            content = fault.body if fault.body is not None else {"error": f"injected {status}"}
        data = content if isinstance(content, bytes) else json.dumps(content).encode()
        self.store.update_request(seq, status=status)
        await _respond(send, status, data, {"content-type": "application/json", **fault.headers})
