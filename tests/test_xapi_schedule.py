"""The local schedule for posting to X directly: due posts published at most once across
schedulers and restarts, late ones marked missed, an interrupted thread continued without
reposting, and `opentweet-mcp scheduler --once` over the simulator."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from opentweet_mcp.xapi.auth import TokenFile, XApp, login
from opentweet_mcp.xapi.client import XClient
from opentweet_mcp.xapi.media import MediaFolder
from opentweet_mcp.xapi.publish import publish_due
from opentweet_mcp.xapi.schedule import STALE_CLAIM, LocalSchedule
from tests.test_xapi_auth import browser_that_approves


def x_app(base: str) -> XApp:
    return XApp(
        "test-client", api_root=base, authorize_url=f"{base}/i/oauth2/authorize", redirect_port=0
    )


@pytest.fixture
async def client(xsim_server: tuple[str, Any], tmp_path: Path) -> AsyncIterator[XClient]:
    xsim_server[1].xsim.reset()
    tokens = TokenFile(
        tmp_path / "state" / "opentweet-mcp" / "x-tokens.json", x_app(xsim_server[0])
    )
    login(tokens.app, tokens, browser_that_approves, timeout=20)
    async with httpx2.AsyncClient(timeout=10) as http:
        yield XClient(tokens, http, tmp_path / "threads")


NOTHING: dict[str, list[str]] = {"posted": [], "failed": [], "missed": [], "scheduled": []}


def post(text: str, **fields: Any) -> dict[str, Any]:
    return {"text": text, **fields}


@pytest.fixture
def media(tmp_path: Path) -> MediaFolder:
    return MediaFolder(tmp_path / "media")


def created(xsim_server: tuple[str, Any]) -> list[str]:
    return [
        r["body"]["text"]
        for r in xsim_server[1].xsim.store.requests()
        if r["path"] == "/2/tweets" and r["status"] == 201
    ]


async def test_due_posts_go_out_once_late_ones_are_missed(
    client: XClient, xsim_server: tuple[str, Any], tmp_path: Path, media: MediaFolder
) -> None:
    path = tmp_path / "x-posts.sqlite3"
    schedule = LocalSchedule(path)
    now = time.time()
    due = schedule.add(post("due now"), now - 1)
    late = schedule.add(post("an hour late"), now - 3600)
    later = schedule.add(post("tomorrow"), now + 86400)
    draft = schedule.add(post("a draft"))
    done = await publish_due(schedule, client, media)
    assert done == {"posted": [due], "failed": [], "missed": [late], "scheduled": []}
    assert [schedule.get(p)["status"] for p in (due, late, later, draft)] == [  # type: ignore[index]
        "posted",
        "missed",
        "scheduled",
        "draft",
    ]
    assert schedule.get(due)["result"]["tweets"][0]["url"].startswith("https://x.com/sandbox_user/")  # type: ignore[index]
    restarted = LocalSchedule(path)  # a restart finds nothing more to do
    assert await publish_due(restarted, client, media) == NOTHING
    assert created(xsim_server) == ["due now"]


def test_two_schedulers_never_claim_one_post_twice(tmp_path: Path) -> None:
    path = tmp_path / "x-posts.sqlite3"
    first = LocalSchedule(path)
    ids = {first.add(post(f"post {n}"), time.time() - 1) for n in range(20)}
    claims: list[set[str]] = [set(), set()]

    def claim(index: int) -> None:
        for _ in range(5):
            store = LocalSchedule(path)
            due, _ = store.due()
            claims[index] |= {i for i in due if store.claim_due(i) is not None}

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not claims[0] & claims[1] and claims[0] | claims[1] == ids


async def test_an_interrupted_thread_continues_without_reposting(
    client: XClient, xsim_server: tuple[str, Any], tmp_path: Path, media: MediaFolder
) -> None:
    now = [time.time()]
    schedule = LocalSchedule(tmp_path / "x-posts.sqlite3", clock=lambda: now[0])
    thread = [f"{n}/3 scheduled thread" for n in (1, 2, 3)]
    post_id = schedule.add(post(thread[0], thread_tweets=thread[1:]), now[0] - 1)
    xsim_server[1].xsim.configure(tweets_fail_after=1)  # X busy (503) at tweet 2
    assert (await publish_due(schedule, client, media))["scheduled"] == [post_id]
    assert created(xsim_server) == ["1/3 scheduled thread"]
    # the pass stopped after tweet 1, the post due again within its grace: the next pass
    # continues it, after looking for tweet 2 (X's 503 did not say), never reposting tweet 1
    xsim_server[1].xsim.configure(tweets_fail_after=None)
    stopped = schedule.get(post_id)
    assert stopped is not None and stopped["status"] == "scheduled" and stopped["retry_at"]
    now[0] += 60
    done = await publish_due(schedule, client, media)
    assert done["posted"] == [post_id]
    assert created(xsim_server) == thread  # tweet 1 not posted again
    # one claimed by a process that died is marked failed once the claim has gone stale,
    # never published behind anyone's back: publishing it again takes a new approval
    stuck = schedule.add(post("claimed, then the process died"), now[0] - 1)
    assert schedule.claim_due(stuck) is not None
    assert (await publish_due(schedule, client, media))["posted"] == []
    now[0] += STALE_CLAIM + 1
    done = await publish_due(schedule, client, media, grace=3600)
    assert done["failed"] == [stuck] and done["posted"] == []
    abandoned = schedule.get(stuck)
    assert abandoned is not None and abandoned["status"] == "failed"
    assert "stopped part way" in abandoned["result"]["error"]
    assert created(xsim_server) == thread


def test_the_scheduler_command_publishes_what_is_due(
    xsim_server: tuple[str, Any], tmp_path: Path
) -> None:
    xsim_server[1].xsim.reset()
    state = tmp_path / "state"
    tokens = TokenFile(state / "opentweet-mcp" / "x-tokens.json", x_app(xsim_server[0]))
    login(tokens.app, tokens, browser_that_approves, timeout=20)
    schedule = LocalSchedule(state / "opentweet-mcp" / "x-posts.sqlite3")
    post_id = schedule.add(post("from the scheduler"), time.time() - 1)
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "XDG_STATE_HOME": str(state),
        "OPENTWEET_X_CLIENT_ID": "test-client",
        "OPENTWEET_X_API_ROOT": xsim_server[0],
    }
    run = [sys.executable, "-m", "opentweet_mcp", "scheduler", "--once"]
    proc = subprocess.run(run, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == NOTHING | {"posted": [post_id]}
    again = subprocess.run(run, env=env, capture_output=True, text=True, timeout=60)
    assert json.loads(again.stdout) == NOTHING
    assert created(xsim_server) == ["from the scheduler"]
