"""`opentweet-mcp approvals`: a person answers pending approvals in a terminal (docs/approvals.md).

It opens the ledger the server keeps its state in (the state folder's file for this API root,
or Redis), lists what waits for an answer with the full preview, and records an approval or a
decline — the first answer stands. Approving asks a person at a terminal, after showing what
would go out: `approve ID` asks about one, and `opentweet-mcp approvals` alone goes through
what waits one by one (`review`); neither runs without a terminal. The call that waits for it
(or the agent's next call with `approval_id`) then carries it out. `open` shows the approval
page in a browser instead. Everything printed is made safe for a terminal first.
"""

from __future__ import annotations

import html
import os
import time
import webbrowser
from datetime import UTC, datetime
from typing import TextIO

import anyio

from opentweet_mcp.config import ConfigError
from opentweet_mcp.guard.approvals import ApprovalRefused, Approvals, PendingApproval, Verdict
from opentweet_mcp.guard.ledger import Ledger
from opentweet_mcp.guard.sqlite_ledger import state_folder
from opentweet_mcp.text.visible import visible


def _age(approval: PendingApproval) -> str:
    seconds = int(time.time() - approval.created_at)
    return f"{seconds // 60} min ago" if seconds >= 60 else f"{seconds} s ago"


def _until(approval: PendingApproval) -> str:
    return datetime.fromtimestamp(approval.expires_at, UTC).strftime("%H:%M:%S UTC")


def _brief(approval: PendingApproval) -> str:
    action = visible(str(approval.preview.get("action")), newlines=False)
    return f"{approval.id}  {approval.tool}: {action}  ({_age(approval)}, until {_until(approval)})"


async def _one(approvals: Approvals, approval_id: str) -> PendingApproval:
    approval = await approvals.get(approval_id)
    if approval is None:
        raise ConfigError(f"no approval {approval_id!r} here; `opentweet-mcp approvals` lists them")
    return approval


def _show(approval: PendingApproval, out: TextIO) -> None:
    out.write(_brief(approval) + "\n")
    out.writelines(f"    {visible(line)}\n" for line in approval.lines)


async def _answer(
    approvals: Approvals, approval: PendingApproval, verdict: Verdict, out: TextIO
) -> int:
    try:
        await approvals.decide(approval, verdict, "cli")
    except ApprovalRefused as refused:
        out.write(f"Not recorded: {refused}.\n")
        return 1
    if verdict == "declined":
        out.write(f"Declined {approval.id}. Nothing is sent.\n")
    else:
        out.write(
            f"Approved {approval.id}. The waiting call carries it out now, or your assistant's "
            "next call with its approval_id does.\n"
        )
    return 0


ASK = "Approve and send this? [a]pprove, [d]ecline, [s]kip, [q]uit: "


async def _asked(question: str, ask: TextIO, out: TextIO) -> str:
    """The first letter of the person's answer, lower case; "" at the end of input."""
    out.write(question)
    out.flush()
    return (await anyio.to_thread.run_sync(ask.readline)).strip().lower()[:1]


async def review(approvals: Approvals, ask: TextIO, out: TextIO) -> int:
    """Each waiting approval in turn, in full, with the person's answer asked for."""
    waiting = await approvals.pending()
    if not waiting:
        out.write("No approvals are waiting.\n")
    for number, approval in enumerate(waiting, 1):
        out.write(f"\n[{number} of {len(waiting)}] ")
        _show(approval, out)
        while True:
            said = await _asked(ASK, ask, out)
            if said in ("a", "d"):
                await _answer(approvals, approval, "approved" if said == "a" else "declined", out)
                break
            if said == "s":
                out.write("Skipped; it keeps waiting.\n")
                break
            if said in ("q", ""):  # "" is the end of input too: never an answer
                out.write("Nothing more was answered.\n")
                return 0
    return 0


def _handoff(link: str) -> str:
    """A page only this user can read that sends the browser on to `link`. The link itself,
    given to the browser, would sit in its command line, which every user of the machine can
    read; this file's path is all they see."""
    folder = state_folder()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / "approval-link.html"
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    with os.fdopen(os.open(path, flags, 0o600), "w", encoding="utf-8") as page:
        target = html.escape(link)
        page.write(
            '<!doctype html><meta charset="utf-8"><meta name="referrer" content="no-referrer">'
            f'<meta http-equiv="refresh" content="0;url={target}"><title>Approval</title>'
            f'<a href="{target}">Open the approval page</a>\n'
        )
    return path.as_uri()


async def run(
    ledger: Ledger, action: str, approval_id: str | None, out: TextIO, ask: TextIO | None = None
) -> int:
    """Carry out one `approvals` command; its exit status. `ask` is the terminal a person
    answers at, if there is one: approving never happens without it."""
    approvals = Approvals(ledger)
    if action in ("review", "approve") and ask is None:
        raise ConfigError(
            f"`approvals {action}` asks you before anything is approved, so it needs a "
            "terminal; `approvals list` shows what waits"
        )
    if action == "review":
        assert ask is not None
        return await review(approvals, ask, out)
    if action == "list":
        waiting = await approvals.pending()
        if not waiting:
            out.write("No approvals are waiting.\n")
        for approval in waiting:
            _show(approval, out)
            out.write("\n")
        return 0
    if approval_id is None:
        raise ConfigError(f"`approvals {action}` needs the id of an approval")
    approval = await _one(approvals, approval_id)
    if action == "show":
        _show(approval, out)
        return 0
    if action == "open":
        link = approval.link
        if link is None:
            raise ConfigError("the server that asked has no approval page to open")
        opened = webbrowser.open(_handoff(link))
        out.write("Opened the approval page.\n" if opened else "No browser could be opened.\n")
        return 0 if opened else 1
    if action == "decline":
        return await _answer(approvals, approval, "declined", out)
    assert ask is not None
    _show(approval, out)
    if await _asked("Approve and send this? [y/N]: ", ask, out) != "y":
        out.write("Not approved; it keeps waiting.\n")
        return 1
    return await _answer(approvals, approval, "approved", out)
