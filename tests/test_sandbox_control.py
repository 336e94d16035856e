"""The sandbox's controls over real sockets and through the test handle: every fault action and
how rules are parsed, the request log, reset, the scheduler, and the config knobs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import pytest

from tests import sandbox_helpers
from tests.sandbox_helpers import FUTURE, auth, draft

http = sandbox_helpers.http  # the shared client fixture (an import by name would trip ruff F811)


async def test_scheduler_publishes_due_posts(http: httpx2.AsyncClient, sandbox: Any) -> None:
    post_id = await draft(http)
    soon = (datetime.now(UTC) + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    await http.post(
        f"/api/v1/posts/{post_id}/schedule", json={"scheduled_date": soon}, headers=auth()
    )
    later = (datetime.now(UTC) + timedelta(minutes=10)).isoformat()
    ran = (await http.post("/_sandbox/scheduler", json={"now": later})).json()
    assert ran["published"] == 1
    post = (await http.get(f"/api/v1/posts/{post_id}", headers=auth())).json()["post"]
    assert post["status"] == "posted" and post["url"]


async def test_fault_actions(http: httpx2.AsyncClient, sandbox: Any) -> None:
    sandbox.fault(
        path="/api/v1/me",
        action="status",
        status=503,
        body={"error": "down"},
        headers={"Retry-After": "2"},
    )
    down = await http.get("/api/v1/me", headers=auth())
    assert down.status_code == 503 and down.headers["retry-after"] == "2"
    assert (await http.get("/api/v1/me", headers=auth())).status_code == 200  # times=1

    sandbox.fault(path="/api/v1/posts", method="POST", action="reset_before")
    with pytest.raises((httpx2.RemoteProtocolError, httpx2.ReadError)):
        await http.post("/api/v1/posts", json={"text": "lost"}, headers=auth())
    sandbox.fault(path="/api/v1/posts", method="POST", action="reset_after")
    with pytest.raises((httpx2.RemoteProtocolError, httpx2.ReadError)):
        await http.post("/api/v1/posts", json={"text": "applied"}, headers=auth())
    texts = [p["text"] for p in (await http.get("/api/v1/posts", headers=auth())).json()["posts"]]
    assert texts == ["applied"]
    log = [r for r in sandbox.requests() if r["method"] == "POST"]
    assert [(r["processed"], r["status"]) for r in log] == [(False, "reset"), (True, "reset")]

    for action, body in (
        ("malformed", b'{"success": true, "post": {'),
        ("empty", b""),
        ("wrong_shape", b"[]"),
    ):
        sandbox.fault(path=r"/api/v1/posts/[0-9a-f]{24}", action=action)
        answer = await http.get(f"/api/v1/posts/{'a' * 24}", headers=auth())
        assert answer.status_code == 200 and answer.content == body

    sandbox.fault(path="/api/v1/accounts", action="echo_auth", status=400)
    echoed = await http.get("/api/v1/accounts", headers=auth("pro_secret_value"))
    assert echoed.status_code == 400 and "pro_secret_value" in echoed.text
    assert all("pro_secret_value" not in str(r["key_prefix"]) for r in sandbox.requests())

    sandbox.fault(path="/api/v1/me", action="delay", delay=0.3, times=2)
    start = datetime.now(UTC)
    assert (await http.get("/api/v1/me", headers=auth())).status_code == 200
    assert (datetime.now(UTC) - start).total_seconds() >= 0.3


async def test_control_endpoints(http: httpx2.AsyncClient) -> None:
    assert (await http.post("/_sandbox/faults", json={"path": "/x"})).status_code == 400
    assert (
        await http.post("/_sandbox/faults", json={"path": "/api/v1/me", "status": 500})
    ).status_code == 201
    assert (await http.delete("/_sandbox/faults")).status_code == 200
    assert (await http.get("/api/v1/me", headers=auth())).status_code == 200
    assert (await http.put("/_sandbox/config", json={"no_such_knob": 1})).status_code == 400
    logged = (await http.get("/_sandbox/requests")).json()["requests"]
    assert [r["path"] for r in logged] == ["/api/v1/me"]
    await http.post("/_sandbox/reset")
    assert (await http.get("/_sandbox/requests")).json()["requests"] == []


async def test_request_log_entries(http: httpx2.AsyncClient, sandbox: Any) -> None:
    await http.post("/api/v1/posts?x=1", json={"text": "logged"}, headers=auth("pro_logsecret"))
    await http.get("/api/v1/me")
    sandbox.fault(path="/api/v1/me", status=500)
    await http.get("/api/v1/me", headers=auth())
    created, anonymous, faulted = sandbox.requests()
    assert created == {
        "method": "POST",
        "path": "/api/v1/posts",
        "query": "x=1",
        "body": {"text": "logged"},
        "key_prefix": created["key_prefix"],
        "status": 201,
        "processed": True,
    }
    assert created["key_prefix"] and "pro_logsecret".startswith(created["key_prefix"])
    assert created["key_prefix"] != "pro_logsecret"
    assert (anonymous["status"], anonymous["key_prefix"]) == (401, "")
    assert (faulted["status"], faulted["processed"]) == (500, False)


async def test_control_endpoints_over_http(http: httpx2.AsyncClient) -> None:
    rule = {"path": r"/api/v1/posts/[0-9a-f]{24}/publish", "status": 502, "times": 2}
    assert (await http.post("/_sandbox/faults", json=rule)).status_code == 201
    post_id = await draft(http)
    codes = [
        (await http.post(f"/api/v1/posts/{post_id}/publish", headers=auth())).status_code
        for _ in range(3)
    ]
    assert codes == [502, 502, 200]
    configured = (await http.put("/_sandbox/config", json={"analysis_delay": 0})).json()
    assert configured["config"]["analysis_delay"] == 0
    assert (await http.post("/_sandbox/scheduler", json={"now": "nope"})).status_code == 400
    ran = (await http.post("/_sandbox/scheduler")).json()
    assert ran == {"success": True, "published": 0, "failed": 0, "evergreen_clones": 0}
    assert (
        await http.post("/_sandbox/faults", json={"status": 500, "times": 0})
    ).status_code == 400


async def test_handle_scheduler_takes_strings(http: httpx2.AsyncClient, sandbox: Any) -> None:
    post_id = await draft(http)
    await http.post(
        f"/api/v1/posts/{post_id}/schedule", json={"scheduled_date": FUTURE}, headers=auth()
    )
    assert sandbox.scheduler("2098-12-31T23:59:59Z")["published"] == 0
    assert sandbox.scheduler("2099-01-01T10:00:00Z")["published"] == 1
    post = (await http.get(f"/api/v1/posts/{post_id}", headers=auth())).json()["post"]
    assert post["posted_date"] == "2099-01-01T10:00:00.000Z"
    with pytest.raises(ValueError):
        sandbox.config(no_such_knob=1)


async def test_drops_are_connection_errors_not_500s(http: httpx2.AsyncClient, sandbox: Any) -> None:
    sandbox.faults(path="/api/v1/posts", method="POST", reset_before=True)
    with pytest.raises(httpx2.ReadError):  # a TCP reset before any byte of an answer
        await http.post("/api/v1/posts", json={"text": "never saved"}, headers=auth())
    sandbox.faults({"path": "/api/v1/posts", "method": "POST", "reset_after": True})
    with pytest.raises(httpx2.RemoteProtocolError, match="complete message body"):
        await http.post("/api/v1/posts", json={"text": "saved anyway"}, headers=auth())
    # the server is fine afterwards, and only the reset_after request was processed
    listed = (await http.get("/api/v1/posts", headers=auth())).json()["posts"]
    assert [p["text"] for p in listed] == ["saved anyway"]
    statuses = [r["status"] for r in sandbox.requests()]
    assert statuses == ["reset", "reset", 200] and 500 not in statuses


async def test_fault_rules_are_parsed_strictly(http: httpx2.AsyncClient, sandbox: Any) -> None:
    sandbox.faults(path="/api/v1/me", echo_auth=True, status=401)  # echo_auth wins over status
    echoed = await http.get("/api/v1/me", headers=auth("pro_echo_me"))
    assert echoed.status_code == 401 and "Bearer pro_echo_me" in echoed.json()["error"]

    sandbox.faults(path="/api/v1/me", status=503, delay=0.2)  # delay is a modifier
    start = datetime.now(UTC)
    slow = await http.get("/api/v1/me", headers=auth())
    assert slow.status_code == 503 and (datetime.now(UTC) - start).total_seconds() >= 0.2

    sandbox.faults(path="/api/v1/me", method="post", status=500)  # method is case-insensitive
    assert (await http.get("/api/v1/me", headers=auth())).status_code == 200
    assert (await http.post("/api/v1/me", headers=auth())).status_code == 500

    sandbox.faults(path="/api/v1/accounts", status=502, body="<html>Bad gateway</html>")
    raw = await http.get("/api/v1/accounts", headers=auth())
    assert raw.status_code == 502 and raw.text == "<html>Bad gateway</html>"

    for rule in (
        {"path": "/api/v1/me", "stauts": 500},
        {"path": "/api/v1/me", "status": 700},
        {"path": "/api/v1/me", "malformed": True, "empty": True},
        {"path": "/api/v1/me", "delay": -1},
        {"path": "/api/v1/me", "status": 500, "times": True},
    ):
        with pytest.raises(ValueError):
            sandbox.faults(rule)
        assert (await http.post("/_sandbox/faults", json=rule)).status_code == 400, rule
    assert (await http.get("/api/v1/me", headers=auth())).status_code == 200


async def test_scheduler_can_fail_posts(http: httpx2.AsyncClient, sandbox: Any) -> None:
    post_id = await draft(http)
    await http.post(
        f"/api/v1/posts/{post_id}/schedule", json={"scheduled_date": FUTURE}, headers=auth()
    )
    sandbox.config(scheduler_fails=True)
    assert sandbox.scheduler("2099-01-02T00:00:00Z") == {
        "published": 0,
        "failed": 1,
        "evergreen_clones": 0,
    }
    failed = (await http.get("/api/v1/posts?status=failed", headers=auth())).json()["posts"]
    assert [p["id"] for p in failed] == [post_id] and failed[0]["error"]
    assert (await http.get("/api/v1/me", headers=auth())).json()["post_counts"]["failed"] == 1
    retried = (await http.post(f"/api/v1/posts/{post_id}/publish", headers=auth())).json()
    assert retried["status"] == "posted" and "error" not in retried["post"]
