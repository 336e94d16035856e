"""Publishing one local post to X, now or when due: its files uploaded, its tweets posted as a
reply chain that continues where an earlier attempt stopped, and the outcome written back.

One function for both paths, so a post published by a tool and one published by the scheduler
go out the same way, each only after its claim (`LocalSchedule.claim`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from opentweet_mcp.guard.publication import tweets_of
from opentweet_mcp.xapi.client import (
    ThreadBroken,
    TweetSpec,
    XClient,
    XError,
    XNotShown,
    XOutcomeUnknown,
    XRateLimited,
    XUnreachable,
)
from opentweet_mcp.xapi.media import MediaFolder
from opentweet_mcp.xapi.schedule import GRACE, PASS_EVERY, LocalSchedule

log = logging.getLogger("opentweet_mcp.xapi")


class MediaGone(XError):
    """A post names a file this server no longer holds."""


class ClaimLost(Exception):
    """The post stopped being this caller's to publish (its claim was taken as abandoned)."""


async def specs_of(
    fields: dict[str, Any], x: XClient, media: MediaFolder, still_ours: Callable[[], None]
) -> list[TweetSpec]:
    """The post's tweets (as the approval gate reads them, `tweets_of`) as X takes them, its
    files uploaded (each with its alt text), the claim checked and renewed around every
    upload."""
    specs = []
    for index, tweet in enumerate(tweets_of(fields)):
        ids = []
        for url in tweet.media:
            stored = media.load(url)
            if stored is None:
                raise MediaGone(f"{url} is no longer kept here: upload the file again")
            still_ours()
            ids.append(
                await x.upload_media(
                    stored.content,
                    stored.content_type,
                    alt_text=stored.alt_text,
                    still_ours=still_ours,
                )
            )
            still_ours()
        first = index == 0
        poll = fields.get("poll") if first else None
        specs.append(
            TweetSpec(
                tweet.text,
                media_ids=tuple(ids),
                poll_options=tuple(poll["options"]) if poll else (),
                poll_minutes=poll["duration_minutes"] if poll else None,
                quote_tweet_id=fields.get("quote_tweet_id") if first else None,
                reply_settings=fields.get("reply_settings") if first else None,
            )
        )
    return specs


def _outcome(x: XClient, post_id: str, error: str, before: dict[str, Any] | None) -> dict[str, Any]:
    """What a post that did not finish leaves: the error, and from its thread's log the
    tweets on X and the one that may be (with the log damaged, what was known `before`)."""
    try:
        thread = x.thread_so_far(post_id)
    except XError as unreadable:
        kept = {k: v for k, v in (before or {}).items() if k in ("tweets", "unsure")}
        said = error if str(unreadable) in error else f"{error}; {unreadable}"
        return {"tweets": [], **kept, "error": said}
    result: dict[str, Any] = {"error": error, "tweets": [asdict(p) for p in thread.posted]}
    if thread.unsure is not None:
        result["unsure"] = thread.unsure + 1
    return result


def _final(error: BaseException) -> bool:
    """A failure that trying again, unchanged, cannot mend: X refused a tweet (4xx other
    than a rate limit), a file is gone or refused, or the claim was given up on. Anything
    else (X busy, unreachable, slow, its answer unclear — a tweet in doubt is looked for
    first) may be tried again within the grace."""
    if isinstance(error, MediaGone | ClaimLost):
        return True
    unclear = XRateLimited | XOutcomeUnknown | XNotShown | XUnreachable
    status = error.status if isinstance(error, XError) else None
    return status is not None and 400 <= status < 500 and not isinstance(error, unclear)


async def publish(
    store: LocalSchedule,
    x: XClient,
    media: MediaFolder,
    post: dict[str, Any],
    *,
    grace: float | None = None,
) -> str:
    """Publish a post claimed by `post["owner"]`; its new status ("lost": the claim was
    given up on meanwhile, and what its finder wrote stands). However it ends — cancelled
    included — what is on X is written down from the thread's log, so no result says
    "nothing on X" while part of it is, and the post is never left claimed. With a `grace`
    (the scheduler), a post that X rate-limits or does not answer is due again, its thread
    continuing then, as long as that stays within the grace after its time; else it is
    missed. Any other failure leaves it failed: published again only with a new approval."""
    post_id, owner = post["id"], post["owner"]

    def still_ours() -> None:
        if not store.touch(post_id, owner):
            raise ClaimLost(f"post {post_id} stopped being this publisher's to publish")

    def end(status: str, result: Any, retry_at: float | None = None) -> str:
        return status if store.finish(post_id, owner, status, result, retry_at) else "lost"

    try:
        tweets = await specs_of(post["fields"], x, media, still_ours)
        posted = await x.post_thread(tweets, key=post_id, still_ours=still_ours)
    except Exception as exc:  # every failure is recorded: the post is never left claimed
        if not isinstance(exc, XError):
            log.warning("publishing post %s failed: %r", post_id, exc)
        result = _outcome(x, post_id, str(exc), post["result"])
        cause = exc.cause if isinstance(exc, ThreadBroken) else exc
        if grace is not None and not _final(cause):
            again = max(float(getattr(cause, "reset", None) or 0), time.time() + PASS_EVERY)
            if post["due"] is not None and again - post["due"] <= grace:  # the approved time
                return end("scheduled", result, again)
            return end("missed", result)  # X would take it too late: nobody approved that
        return end("failed", result)
    except BaseException:  # cancelled, or the process told to stop: say so, then stop
        end("failed", _outcome(x, post_id, "the publish was cancelled part way", post["result"]))
        raise
    return end("posted", {"tweets": [asdict(p) for p in posted]})


ABANDONED = (
    "the process publishing it stopped part way; publishing it again (with a new approval) "
    "continues its thread after the tweets already on X"
)


def give_up_stale(store: LocalSchedule, x: XClient) -> list[str]:
    """Claims nobody has renewed for STALE_CLAIM, marked failed with what is on X."""
    stalled = store.release_stale()
    for post_id in stalled:
        row = store.get(post_id)
        before = row["result"] if row is not None else None
        store.finish(post_id, None, "failed", _outcome(x, post_id, ABANDONED, before))
    return stalled


async def publish_due(
    store: LocalSchedule, x: XClient, media: MediaFolder, grace: float = GRACE
) -> dict[str, list[str]]:
    """One pass of the scheduler: abandoned claims marked failed with what is on X, the late
    posts marked missed, and every due post claimed just before it is published (so a long
    pass never holds claims it is not working on), each once. What happened, by outcome."""
    store.beat()
    done: dict[str, list[str]] = {"posted": [], "failed": [], "missed": [], "scheduled": []}
    done["failed"] += give_up_stale(store, x)
    due, done["missed"] = store.due(grace)
    for post_id in due:
        owner = store.claim_due(post_id, grace)
        post = store.get(post_id)
        if owner is None or post is None:
            continue  # another scheduler took it, it was rescheduled, or its grace ran out
        status = await publish(store, x, media, post | {"owner": owner}, grace=grace)
        done.setdefault(status, []).append(post_id)
    return done
