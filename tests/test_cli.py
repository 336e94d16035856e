"""`opentweet-mcp call` as a user or a shell-driving agent runs it: one process per tool call on
a file-backed sandbox, the confirmation token carried from one process to the next."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from opentweet_mcp.guard.sqlite_ledger import default_path


def run_call(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "opentweet_mcp", "call", *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


class Caller:
    def __init__(self, tmp_path: Path) -> None:
        self.db = tmp_path / "sandbox.db"
        self.env = {
            **os.environ,
            "XDG_STATE_HOME": str(tmp_path / "state"),  # where a real account's ledger would go
            "OPENTWEET_MCP_SECRET": "cli-test-secret",  # tokens valid from one call to the next
            "OPENTWEET_API_KEY": "",
        }

    def __call__(self, tool: str, arguments: dict[str, Any] | None = None) -> tuple[int, str, Any]:
        argv = [tool] + ([json.dumps(arguments)] if arguments is not None else [])
        proc = run_call(self.env, *argv, "--sandbox", str(self.db))
        summary, _, structured = proc.stdout.partition("\n{")
        data = json.loads("{" + structured) if structured else None
        return proc.returncode, summary, data


@pytest.fixture
def call(tmp_path: Path) -> Caller:
    return Caller(tmp_path)


def test_call_prints_the_summary_then_the_data(call: Caller, tmp_path: Path) -> None:
    code, summary, data = call("get_account")
    assert code == 0, summary
    assert summary.startswith("Authenticated: True")
    assert data["authenticated"] is True
    # the ledger of a file-backed sandbox lives beside it, not in the user's state folder
    assert (tmp_path / "sandbox.db.ledger").is_file()
    assert not (tmp_path / "state").exists()


def test_a_token_confirmed_once_is_spent_for_every_later_call(call: Caller) -> None:
    arguments = {"text": "Published once from the command line", "publish_now": True}
    code, summary, preview = call("create_post", arguments)
    assert code == 0 and summary.startswith("NOT DONE YET"), summary
    confirmed = {**arguments, "confirmation_token": preview["confirmation_token"]}

    code, summary, first = call("create_post", confirmed)
    assert code == 0 and summary.startswith("Published"), summary
    code, summary, again = call("create_post", confirmed)  # a retry from a new process
    assert code == 0, summary
    assert again == first  # the first result back, nothing written twice

    code, _, posted = call("list_posts", {"status": "posted"})
    texts = [p["text"] for p in posted["posts"]]
    assert texts.count(arguments["text"]) == 1


def test_an_idempotency_key_holds_across_calls(call: Caller) -> None:
    arguments = {"text": "Draft with a key", "idempotency_key": "cli-draft-1"}
    _, _, first = call("create_post", arguments)
    _, _, second = call("create_post", arguments)
    assert second == first
    code, summary, _ = call("create_post", {**arguments, "text": "Other text, same key"})
    assert code == 1 and "refused, nothing was sent" in summary


@pytest.mark.parametrize(
    "argv,needle",
    [(["get_account", "{not json"], "arguments must be a JSON object")],
)
def test_bad_arguments_exit_2(call: Caller, argv: list[str], needle: str) -> None:
    proc = run_call(call.env, *argv, "--sandbox")
    assert proc.returncode == 2 and needle in proc.stderr and proc.stdout == ""


def test_an_error_result_exits_1(call: Caller) -> None:
    code, summary, _ = call("get_post", {"id": "507f1f77bcf86cd799439011"})
    assert code == 1 and "HTTP 404" in summary


def test_where_the_ledger_lives(call: Caller, tmp_path: Path, sandbox: Any) -> None:
    state = tmp_path / "state" / "opentweet-mcp"
    assert run_call(call.env, "get_account", "--sandbox").returncode == 0
    assert [p.name for p in state.glob("ledger-*.sqlite3")] == [  # every in-memory sandbox's
        (default_path("sandbox:memory")).name
    ]
    account = {
        **call.env,
        "OPENTWEET_API_KEY": "pro_cli_user",
        "OPENTWEET_BASE_URL": sandbox.base_url,
    }
    assert run_call(account, "get_account").returncode == 0
    (ledger,) = set(state.glob("ledger-*.sqlite3")) - {state / default_path("sandbox:memory").name}
    assert state.stat().st_mode & 0o777 == 0o700 and ledger.stat().st_mode & 0o777 == 0o600
    same_root = {**account, "OPENTWEET_BASE_URL": sandbox.base_url + "/"}
    assert run_call(same_root, "get_account").returncode == 0
    assert len(list(state.glob("ledger-*.sqlite3"))) == 2  # the same root: the same file


def test_a_corrupt_ledger_is_one_clear_line(call: Caller) -> None:
    Path(f"{call.db}.ledger").write_bytes(b"this is not a database" * 100)
    proc = run_call(call.env, "get_account", "--sandbox", str(call.db))
    assert proc.returncode == 2 and proc.stdout == ""
    (line,) = proc.stderr.strip().splitlines()
    assert "cannot keep the call ledger" in line and "remove the file" in line


def test_a_preview_without_a_shared_secret_says_so(call: Caller) -> None:
    env = {k: v for k, v in call.env.items() if k != "OPENTWEET_MCP_SECRET"}
    proc = run_call(env, "create_post", '{"text": "Now", "publish_now": true}', "--sandbox")
    assert proc.returncode == 0 and "confirmation_required" in proc.stdout
    assert "OPENTWEET_MCP_SECRET" in proc.stderr
    with_secret = run_call(
        call.env, "create_post", '{"text": "Now", "publish_now": true}', "--sandbox"
    )
    assert "confirmation_required" in with_secret.stdout
    assert "OPENTWEET_MCP_SECRET" not in with_secret.stderr


def test_an_unusable_state_folder_is_one_clear_line(
    call: Caller, tmp_path: Path, sandbox: Any
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    env = {
        **call.env,
        "XDG_STATE_HOME": str(blocker),
        "OPENTWEET_API_KEY": "pro_cli_user",
        "OPENTWEET_BASE_URL": sandbox.base_url,
    }
    proc = run_call(env, "get_account")
    assert proc.returncode == 2 and proc.stdout == ""
    (line,) = proc.stderr.strip().splitlines()
    assert "cannot keep the call ledger" in line and "XDG_STATE_HOME" in line


def test_two_spellings_of_one_api_root_share_one_ledger(call: Caller, sandbox: Any) -> None:
    """A token confirmed through one spelling of the base URL is spent for every other."""
    host_port = sandbox.base_url.removeprefix("http://")
    spellings = [sandbox.base_url, f"HTTP://{host_port}/./", f"http://{host_port}//"]
    arguments = {"text": "Published once, whatever the spelling", "publish_now": True}

    def account(base_url: str, *argv: str) -> tuple[int, Any]:
        env = {**call.env, "OPENTWEET_API_KEY": "pro_cli_spelling", "OPENTWEET_BASE_URL": base_url}
        proc = run_call(env, *argv)
        return proc.returncode, json.loads("{" + proc.stdout.partition("\n{")[2])

    _, preview = account(spellings[0], "create_post", json.dumps(arguments))
    confirmed = json.dumps({**arguments, "confirmation_token": preview["confirmation_token"]})
    results = [account(base_url, "create_post", confirmed) for base_url in spellings]
    assert [code for code, _ in results] == [0, 0, 0]
    assert results[1][1] == results[0][1] == results[2][1]  # the first result, replayed
    published = [r for r in sandbox.requests() if r["method"] == "POST"]
    assert len(published) == 1


def test_nothing_in_the_output_can_drive_the_terminal(call: Caller) -> None:
    hostile = "Hi \x1b]0;pwned\x07\x1b[2J\x9b31m\u202eevil\u2028end"
    arguments = json.dumps({"text": hostile})
    proc = run_call(call.env, "create_post", arguments, "--sandbox", str(call.db))
    assert proc.returncode == 0, proc.stderr
    for raw in ("\x1b", "\x07", "\x9b", "\u202e", "\u2028"):
        assert raw not in proc.stdout
    assert "⟨U+001B⟩]0;pwned" in proc.stdout  # shown, not obeyed
    structured = json.loads("{" + proc.stdout.partition("\n{")[2])
    assert structured["posts"][0]["text"] == hostile  # the JSON still says exactly what it is


def test_call_shows_progress_while_a_publish_is_under_way(call: Caller, sandbox: Any) -> None:
    sandbox.config(publish_delay=0.8)
    env = {**call.env, "OPENTWEET_API_KEY": "pro_cli_progress"}
    base = ["--base-url", sandbox.base_url]
    arguments = {"text": "Published while you wait", "publish_now": True}
    preview = json.loads(
        "{" + run_call(env, "create_post", json.dumps(arguments), *base).stdout.partition("\n{")[2]
    )
    confirmed = {**arguments, "confirmation_token": preview["confirmation_token"]}
    proc = run_call(env, "create_post", json.dumps(confirmed), *base)
    assert proc.returncode == 0 and proc.stdout.startswith("Published to X"), proc.stdout
    assert "… 0/6 post " in proc.stderr and "is publishing; waiting" in proc.stderr
