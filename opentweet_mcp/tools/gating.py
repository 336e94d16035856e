"""How a planned tool meets the SDK: the function registered for it, with its resolvers.

A planned tool is written once, as a planner: an async function of the tool's own parameters
that returns a `Plan`. This module builds what the SDK registers from it — the planner's
parameters plus `confirmation_token` and `approval_id` (gated tools) and `idempotency_key`,
and resolvers that the SDK runs before the body, each once per call:

- `call`: the plan with every argument it binds (the planner runs here, once, and the
  tweets it sends are held to the account's length limit);
- `shown`: in elicitation mode, what would go out, read now and put to the person;
- `approval`: the person's answer (`Elicit`, delivered in either protocol era).

The body hands all three to the gate (`Guard.run`).
"""

from __future__ import annotations

import inspect
import typing
from inspect import Parameter, Signature
from typing import Annotated, Any

from mcp.server.mcpserver import Context, Elicit, Resolve
from mcp.types import CallToolResult

from opentweet_mcp.guard.confirm import Answer, Approval, Guard, Shown
from opentweet_mcp.guard.plan import Call
from opentweet_mcp.results import GatedOut, tool_errors
from opentweet_mcp.services import services
from opentweet_mcp.tools.spec import ToolFn, ToolSpec
from opentweet_mcp.validate import (
    ApprovalId,
    ConfirmationToken,
    IdempotencyKey,
    check_lengths,
    over_standard,
)

TOKEN = "confirmation_token"
APPROVAL_ID = "approval_id"
IDEMPOTENCY_KEY = "idempotency_key"


def _signed(fn: ToolFn, name: str, parameters: list[Parameter], returns: Any) -> ToolFn:
    """`fn` presented to the SDK with these parameters (it matches resolver and tool
    arguments by name) and a stable qualified name (its resolvers' key on the wire)."""
    fn.__signature__ = Signature(parameters, return_annotation=returns)  # type: ignore[attr-defined]
    fn.__annotations__ = {p.name: p.annotation for p in parameters} | {"return": returns}
    fn.__name__ = fn.__qualname__ = name
    return fn


def registered(spec: ToolSpec) -> ToolFn:
    """The function to register for `spec`: the tool itself unless it is planned."""
    if not spec.planned:
        return spec.fn
    planner = spec.fn
    hints = typing.get_type_hints(planner, include_extras=True)
    own = [
        p.replace(kind=Parameter.KEYWORD_ONLY, annotation=hints.get(p.name, p.annotation))
        for p in inspect.signature(planner).parameters.values()
    ]
    context = next(p.name for p in own if p.annotation is Context)
    added = [
        Parameter(name, Parameter.KEYWORD_ONLY, default=None, annotation=kind | None)
        for name, kind, wanted in (
            (TOKEN, ConfirmationToken, spec.gated),
            (APPROVAL_ID, ApprovalId, spec.gated),
            (IDEMPOTENCY_KEY, IdempotencyKey, spec.idempotency_key),
        )
        if wanted
    ]

    async def call(**given: Any) -> Call:
        ctx = given.pop(context)
        token, approval_id = given.pop(TOKEN, None), given.pop(APPROVAL_ID, None)
        key = given.get(IDEMPOTENCY_KEY)
        plan = await planner(
            **{context: ctx}, **{k: v for k, v in given.items() if k != IDEMPOTENCY_KEY}
        )
        if over_standard(plan.texts):  # only then is the account's own limit worth a read
            check_lengths(plan.texts, await plan.caller.tweet_limit(plan.named_account))
        return Call(plan, given, token=token, idempotency_key=key, approval_id=approval_id)

    call_fn = tool_errors(_signed(call, f"{spec.name}.call", [*own, *added], Call))
    resolved = [
        Parameter("call", Parameter.KEYWORD_ONLY, annotation=Annotated[Call, Resolve(call_fn)])
    ]
    if spec.gated:
        resolved += _approval_parameters(spec.name, context, own, resolved[0])

    async def tool(**given: Any) -> CallToolResult:
        ctx = given[context]
        return await services(ctx).guard.run(
            ctx, given["call"], shown=given.get("shown"), approval=given.get("approval")
        )

    returns = Annotated[CallToolResult, GatedOut] if spec.gated else CallToolResult
    return _signed(tool, spec.name, [*resolved, *own, *added], returns)


def _approval_parameters(
    name: str, context: str, own: list[Parameter], call: Parameter
) -> list[Parameter]:
    """`shown` and `approval`, the resolvers that put a gated call to the person."""
    context_param = next(p for p in own if p.name == context)

    async def shown(**given: Any) -> Shown | None:
        return await services(given[context]).guard.shown(given[context], given["call"])

    shown_fn = tool_errors(_signed(shown, f"{name}.shown", [context_param, call], Shown | None))
    shown_param = Parameter(
        "shown", Parameter.KEYWORD_ONLY, annotation=Annotated[Shown | None, Resolve(shown_fn)]
    )

    async def approval(shown: Shown | None) -> Elicit[Approval] | Approval:
        return Guard.ask(shown)

    approval_fn = tool_errors(
        _signed(approval, f"{name}.approval", [shown_param], Elicit[Approval] | Approval)
    )
    approval_param = Parameter(
        "approval", Parameter.KEYWORD_ONLY, annotation=Annotated[Answer, Resolve(approval_fn)]
    )
    return [shown_param, approval_param]
