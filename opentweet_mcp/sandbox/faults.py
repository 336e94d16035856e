"""Fault injection and the request log, as the outermost ASGI layer of the simulated API.

Every /api/ request is logged (method, path, query, JSON body, key prefix, status, whether it
was processed) so tests can assert what reached the upstream. A matching fault rule can answer
with a chosen status, delay, drop the connection before or after processing, or send a
malformed, empty or wrong-shaped body.

A dropped connection is made real. Under uvicorn the layer sits outside Starlette's own
middleware, so `send` is uvicorn's per-request cycle and its TCP transport is reachable: a drop
writes what it wants (nothing, or a truncated response) and resets the socket (SO_LINGER 0), so
the client sees a reset or a peer that closed mid-message — never a 500. Under another server
(or in-process) it falls back to declaring more body bytes than it sends.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import struct
import threading
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from opentweet_mcp.sandbox.store import Store

ACTIONS = (
    "status",
    "status_after",
    "delay",
    "reset_before",
    "reset_after",
    "malformed",
    "empty",
    "wrong_shape",
    "echo_auth",
)
FIELDS = frozenset({"action", "path", "method", "times", "status", "body", "headers", *ACTIONS})
BODIES = {"malformed": b'{"success": true, "post": {', "empty": b"", "wrong_shape": b"[]"}
TRUNCATED = b'{"success": true, "partial": '  # what a reset_after client gets before the drop


@dataclass
class Fault:
    """One rule. `delay` (seconds) is waited before any action; the action `delay` alone then
    handles the request normally."""

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
        if path.startswith(self.path):
            return True
        try:  # not every prefix is a valid regex ("/api/v1/posts(" is a fine prefix)
            return bool(re.fullmatch(self.path, path))
        except re.error:
            return False

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Fault:
        """Parse a rule as `POST /_sandbox/faults` takes it; anything unclear is a ValueError
        (a typo in a test's fault must fail loudly, not inject nothing)."""
        unknown = set(raw) - FIELDS
        if unknown:
            raise ValueError(f"unknown fault fields {sorted(unknown)}; known: {sorted(FIELDS)}")
        action = raw.get("action")
        if action is None:  # the action named by its own field; status and delay only if alone
            named = [a for a in ACTIONS if a not in ("status", "delay") and raw.get(a)]
            if len(named) > 1:
                raise ValueError(f"a fault takes one action, got {named}")
            if named:
                action = named[0]
            elif raw.get("status") is not None:
                action = "status"
            elif raw.get("delay"):
                action = "delay"
        if action not in ACTIONS:
            raise ValueError(f"a fault needs one action of {', '.join(ACTIONS)}")
        times, status, delay = raw.get("times", 1), raw.get("status"), raw.get("delay", 0)
        if isinstance(times, bool) or not isinstance(times, int) or times < 1:
            raise ValueError("times must be a whole number ≥ 1")
        if status is not None and (
            isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599
        ):
            raise ValueError("status must be an HTTP status code (100–599)")
        if action == "delay" and raw.get("delay") in (None, False):
            raise ValueError("the delay action needs delay (seconds)")
        if isinstance(delay, bool):  # {"delay": true} names the action, with no wait
            delay = 0
        if not isinstance(delay, int | float) or delay < 0:
            raise ValueError("delay must be a number of seconds ≥ 0")
        headers = raw.get("headers") or {}
        if not isinstance(headers, dict):
            raise ValueError("headers must be an object")
        method = raw.get("method")
        return cls(
            action=action,
            path=str(raw.get("path", "")),
            method=str(method).upper() if method else None,
            times=times,
            status=status,
            body=raw.get("body"),
            headers={str(k): str(v) for k, v in headers.items()},
            delay=float(delay),
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


def _transport(send: Send) -> asyncio.Transport | None:
    """uvicorn's TCP transport behind `send` (its RequestResponseCycle.send), if it is one."""
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    return transport if isinstance(transport, asyncio.Transport) else None


async def _drop(send: Send, partial: bool) -> None:
    """Drop the connection: with `partial`, after the head and a few bytes of a 200 response
    that promises more; without, before any byte of a response."""
    head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 4096\r\n\r\n"
    transport = _transport(send)
    if transport is None:  # not uvicorn: end a response shorter than it said it would be
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")],
            }
        )
        await send({"type": "http.response.body", "body": TRUNCATED})
        return
    sock = transport.get_extra_info("socket")
    if partial:
        transport.write(head + TRUNCATED)
    elif sock is not None:  # linger 0: close() sends a TCP reset, as a crashed peer would
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    if partial:
        transport.close()  # flush the partial response, then FIN mid-body
    else:
        transport.abort()
    # let uvicorn see connection_lost, so it neither logs nor answers the finished request
    for _ in range(3):
        await asyncio.sleep(0)


class FaultsAndLog:
    """Wraps the whole app (see the module docstring for why outermost)."""

    def __init__(
        self, app: ASGIApp, store: Store, faults: Faults, api: tuple[str, ...] = ("/api/",)
    ) -> None:
        self.app = app
        self.store = store
        self.faults = faults
        self.api = api  # the paths of the simulated API: logged, and open to faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.api):
            await self.app(scope, receive, send)
            return
        body = b""
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
        headers = dict(scope.get("headers") or [])
        auth = headers.get(b"authorization", b"").decode("latin-1")
        key = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        try:
            parsed: Any = json.loads(body) if body else None
        except ValueError:
            parsed = None if b"multipart" in headers.get(b"content-type", b"") else "<invalid>"
        seq = self.store.log_request(
            {
                "method": scope["method"],
                "path": scope["path"],
                "query": scope.get("query_string", b"").decode("latin-1"),
                "body": parsed,
                "key_prefix": key[: max(0, min(len(key) - 4, 12))],
                "status": None,
                "processed": False,
            }
        )
        fault = self.faults.take(scope["method"], scope["path"])
        if fault is not None and fault.delay:
            await asyncio.sleep(fault.delay)
        if fault is not None and fault.action == "delay":
            fault = None
        if fault is not None and fault.action in ("status", "echo_auth", "reset_before"):
            await self._answer_without_processing(fault, seq, auth, send)
            return

        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return {"type": "http.disconnect"}
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def capture(message: Message) -> None:
            if fault is not None:
                return  # the real answer is replaced below
            if message["type"] == "http.response.start":
                self.store.update_request(seq, status=message["status"])
            await send(message)

        await self.app(scope, replay, capture)
        self.store.update_request(seq, processed=True)
        if fault is None:
            return
        if fault.action == "reset_after":
            self.store.update_request(seq, status="reset")
            await _drop(send, partial=True)
            return
        if fault.action == "status_after":  # processed, then a gateway's error in its place
            await self._answer_without_processing(fault, seq, "", send)
            return
        self.store.update_request(seq, status=200)
        await _respond(send, 200, BODIES[fault.action], {"content-type": "application/json"})

    async def _answer_without_processing(
        self, fault: Fault, seq: int, auth: str, send: Send
    ) -> None:
        if fault.action == "reset_before":
            self.store.update_request(seq, status="reset")
            await _drop(send, partial=False)
            return
        status = fault.status or 500
        if fault.action == "echo_auth":
            content: Any = {"error": f"upstream debug: received Authorization: {auth}"}
        else:
            content = fault.body if fault.body is not None else {"error": f"injected {status}"}
        data = content.encode() if isinstance(content, str) else json.dumps(content).encode()
        self.store.update_request(seq, status=status)
        await _respond(send, status, data, {"content-type": "application/json", **fault.headers})
