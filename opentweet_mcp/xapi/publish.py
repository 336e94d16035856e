"""Publishing one local post to X, now or when due: its files uploaded, its tweets posted as a
reply chain that continues where an earlier attempt stopped, and the outcome written back.

One function for both paths, so a post published by a tool and one published by the scheduler
go out the same way, each only after its claim (`LocalSchedule.claim` / `claim_due`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from opentweet_mcp.xapi.client import ThreadBroken, TweetSpec, XClient, XError, XRateLimited
from opentweet_mcp.xapi.media import MediaFolder
from opentweet_mcp.xapi.schedule import GRACE, LocalSchedule

log = logging.getLogger("opentweet_mcp.xapi")


class MediaGone(XError):
    """A post names a file this server no longer holds."""


class ClaimLost(Exception):
    """The post stopped being this caller's to publish (its claim was taken as abandoned)."""


async def tweets_of(
    fields: dict[str, Any], x: XClient, media: MediaFolder, still_ours: Callable[[], None]
) -> list[TweetSpec]:
    """The post's tweets as X takes them, its files uploaded (each with its alt text), the
    claim checked and renewed around every upload."""
    texts = [fields["text"], *(fields.get("thread_tweets") or [])]
    media_lists = [fields.get("media_urls") or [], *(fields.get("thread_media") or [])]
    tweets = []
    for index, text in enumerate(texts):
        ids = []
        for url in media_lists[index] if index < len(media_lists) else []:
            stored = media.load(url)
            if stored is None:
                raise MediaGone(f"{url} is no longer kept here: upload the file again")
            still_ours()
            ids.append(
                await x.upload_media(stored.content, stored.content_type, alt_text=stored.alt_text)
            )
            still_ours()
        first = index == 0
        poll = fields.get("poll") if first else None
        tweets.append(
            TweetSpec(
                text,
                media_ids=tuple(ids),
                poll_options=tuple(poll["options"]) if poll else (),
                poll_minutes=poll["duration_minutes"] if poll else None,
                quote_tweet_id=fields.get("quote_tweet_id") if first else None,
                reply_settings=fields.get("reply_settings") if first else None,
            )
        )
    return tweets


async def publish(
    store: LocalSchedule,
    x: XClient,
    media: MediaFolder,
    post: dict[str, Any],
    *,
    by_scheduler: bool,
) -> str:
    """Publish a post claimed by `post["owner"]`; its new status. However it ends, what is on
    X is written down (from the thread's log), so no result says "nothing on X" while part of
    it is. Should the claim be taken as abandoned meanwhile, publishing stops before the next
    upload or tweet and writes nothing over what the finder wrote. Rate-limited by X, the
    scheduler's post is due again when the window opens (its thread continues then); any
    other failure leaves the post failed, to be published again only with a new approval."""
    post_id, owner = post["id"], post["owner"]

    def still_ours() -> None:
        if not store.touch(post_id, owner):
            raise ClaimLost(f"post {post_id} stopped being this publisher's to publish")

    try:
        tweets = await tweets_of(post["fields"], x, media, still_ours)
        posted = await x.post_thread(tweets, key=post_id, still_ours=still_ours)
    except Exception as exc:  # every failure is recorded: the post is never left claimed
        if not isinstance(exc, XError):
            log.warning("publishing post %s failed: %r", post_id, exc)
        thread = x.thread_so_far(post_id)
        result: dict[str, Any] = {
            "error": str(exc),
            "tweets": [asdict(p) for p in thread.posted],
        }
        if thread.unsure is not None:
            result["unsure"] = thread.unsure + 1
        cause = exc.cause if isinstance(exc, ThreadBroken) else exc
        if isinstance(cause, XRateLimited) and by_scheduler:
            reset = float(cause.reset or time.time() + 15 * 60)
            due = max(reset, time.time()) + 1
            return "scheduled" if store.finish(post_id, owner, "scheduled", result, due) else "lost"
        store.finish(post_id, owner, "failed", result)
        return "failed"
    finished = store.finish(post_id, owner, "posted", {"tweets": [asdict(p) for p in posted]})
    return "posted" if finished else "lost"


ABANDONED = (
    "the process publishing it stopped part way; publishing it again (with a new approval) "
    "continues its thread after the tweets already on X"
)


async def publish_due(
    store: LocalSchedule, x: XClient, media: MediaFolder, grace: float = GRACE
) -> dict[str, list[str]]:
    """One pass of the scheduler: every due post published once (threads continue where they
    stopped), the late ones marked missed, abandoned claims marked failed with what is on X.
    What happened, by outcome."""
    store.beat()
    posts, missed, stalled = store.claim_due(grace)
    done: dict[str, list[str]] = {"posted": [], "failed": [], "missed": missed, "scheduled": []}
    for post_id in stalled:
        on_x = [asdict(p) for p in x.thread_so_far(post_id).posted]
        store.finish(post_id, None, "failed", {"error": ABANDONED, "tweets": on_x})
        done["failed"].append(post_id)
    for post in posts:
        status = await publish(store, x, media, post, by_scheduler=True)
        done.setdefault(status, []).append(post["id"])
    return done
