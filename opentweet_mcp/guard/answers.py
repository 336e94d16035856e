"""What the gate answers when it does not (yet) write: the results a model reads about an
approval, and the replay of one already carried out. Built here, in one place, so every way
of approving reads alike: "NOT DONE…" first, then what happened and what to do next."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from mcp.types import CallToolResult, TextContent

from opentweet_mcp.guard.approvals import PendingApproval
from opentweet_mcp.guard.preview import Preview
from opentweet_mcp.guard.tokens import MintedToken
from opentweet_mcp.validate import iso_z

CARD_META = "io.opentweet/approval"  # where the card finds what only it may hold (its
# script, approval.html, reads this very key)


def _iso(moment: float) -> str:
    return iso_z(datetime.fromtimestamp(moment, UTC))


def _result(text: str, data: dict[str, Any], meta: dict[str, Any] | None = None) -> CallToolResult:
    return CallToolResult(
        content=[TextContent(type="text", text=text)], structured_content=data, _meta=meta
    )


def dump(result: CallToolResult) -> str:
    return result.model_dump_json(by_alias=True, exclude_none=True)


def replayed(stored: str, why: str) -> CallToolResult:
    result = CallToolResult.model_validate_json(stored)
    note = TextContent(type="text", text=f"(Replayed: {why}; no new request was made.)")
    return result.model_copy(update={"content": [*result.content, note]})


def not_done(text: str, status: str, tool: str) -> CallToolResult:
    return _result(text, {"status": status, "action": tool})


def confirmation_required(
    tool: str, preview: Preview, minted: MintedToken, *, changed: bool
) -> CallToolResult:
    head = "NOT DONE YET — confirmation required. Nothing was sent."
    if changed:
        head += (
            " What this call would send changed since the preview the token was issued "
            "for (the post was edited, or its state changed): this is a fresh preview; the "
            "old token no longer applies."
        )
    text = "\n".join(
        [
            head,
            *preview.lines,
            f"Show this whole preview to the user. Only if they agree, call {tool} again with "
            f'the same arguments plus confirmation_token="{minted.token}" (valid until '
            f"{minted.expires_at_iso}).",
        ]
    )
    data: dict[str, Any] = {
        "status": "confirmation_required",
        "action": preview.action,
        "preview": preview.data,
        "confirmation_token": minted.token,
        "expires_at": minted.expires_at_iso,
    }
    if changed:
        data["changed_since_preview"] = True
    return _result(text, data)


WHERE = {
    "card": "in the approval card shown with this result (or in a terminal, with "
    "`opentweet-mcp approvals`)",
    "url": "on the approval page their client opened (or in a terminal, with "
    "`opentweet-mcp approvals`)",
    "page": "in a terminal, with `opentweet-mcp approvals` (it can open the approval page)",
}


def pending(approval: PendingApproval, way: str, *, waited: bool) -> CallToolResult:
    """The approval is the person's to give: what the model reads, and for the card, in the
    result's metadata (never model-visible), the secret its buttons answer with."""
    head = (
        "NOT DONE YET — still waiting for the person to approve. Nothing was sent."
        if waited
        else "NOT DONE YET — waiting for the person to approve. Nothing was sent."
    )
    text = "\n".join(
        [
            head,
            f"Action: {approval.preview.get('action')}",
            f"The person approves or declines {WHERE[way]}. Do not ask them to paste anything "
            "into the conversation, and do not approve on their behalf. To learn the outcome, "
            f'call {approval.tool} again with the same arguments plus approval_id="{approval.id}" '
            f"(the request expires at {_iso(approval.expires_at)}).",
        ]
    )
    data = {
        "status": "approval_pending",
        "action": approval.preview.get("action"),
        "approval_id": approval.id,
        "preview": approval.preview,
        "expires_at": _iso(approval.expires_at),
    }
    meta = {CARD_META: {"id": approval.id, "secret": approval.secret}} if way == "card" else None
    return _result(text, data, meta)


CHANNELS = {
    "card": "on the approval card",
    "url": "on the approval page",
    "page": "on the approval page",
    "cli": "with opentweet-mcp approvals",
}


def declined(tool: str, how: str) -> CallToolResult:
    """A person's own decline: `how` names the channel that took it (a key of CHANNELS), or
    says in words how they declined."""
    said = CHANNELS.get(how, how)
    return not_done(
        f"NOT DONE — the person declined ({tool}, {said}). Nothing was sent.", "declined", tool
    )


def not_shown(tool: str, channel: str, waiting: PendingApproval | None) -> CallToolResult:
    """A decline the client may have given unasked (some hosts decline every form or page
    without showing it): when `waiting`, the request stays open for the person elsewhere."""
    text = (
        f"NOT DONE — the person declined ({tool}, {channel}), or the client could not show "
        "them the request. Nothing was sent."
    )
    if waiting is None:
        return not_done(text, "declined", tool)
    text += (
        f" If they did not see it, it waits for them until {_iso(waiting.expires_at)}: "
        f"{WHERE['page']}. To learn the outcome, call {tool} again with the same arguments "
        f'plus approval_id="{waiting.id}".'
    )
    data = {"status": "declined", "action": tool, "approval_id": waiting.id}
    return _result(text, data | {"expires_at": _iso(waiting.expires_at)})


def expired(tool: str) -> CallToolResult:
    return not_done(
        f"NOT DONE — the approval request expired before it was answered or carried out. "
        f"Nothing was sent. Call {tool} again without approval_id to ask again.",
        "expired",
        tool,
    )


def changed(tool: str, *, while_asked: bool = False) -> CallToolResult:
    """What the call would send is not what the person was shown: asked in a form (and it
    changed while they read), or approved outside the conversation (and it changed since)."""
    when = "while the person was being asked" if while_asked else "since the person was asked"
    again = "" if while_asked else " without approval_id"
    return not_done(
        f"NOT DONE — what this call would send changed {when} (the post was edited, or its "
        f"state changed). Nothing was sent. Call {tool} again{again} to show them the current "
        "version.",
        "changed",
        tool,
    )
