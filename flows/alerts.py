"""Alerts through Prefect: an event for every new story a topic hits, and the
automation that sends those events to a webhook.

Events go to the Prefect server the flow runs against; an automation (created
once by `feedwatch alerts create`) turns each into a POST to the analysts'
webhook (chat, mail gateway, pager). Nothing here talks to the webhook itself.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Sequence
from typing import cast
from uuid import UUID

from prefect.events import emit_event

from flows.summary import story_hits
from warehouse.api import Hit

__all__ = ["HIT_EVENT", "create_webhook_automation", "emit_hit_events"]

HIT_EVENT = "feedwatch.topic.hit"

# What the webhook receives: one JSON object per hit, filled in by Prefect from the event.
WEBHOOK_PAYLOAD = json.dumps(
    {
        "topic": "{{ event.payload.topic }}",
        "title": "{{ event.payload.title }}",
        "link": "{{ event.payload.link }}",
        "score": "{{ event.payload.score }}",
        "story": "{{ event.payload.cluster_id }}",
        "occurred": "{{ event.occurred }}",
    }
)


def emit_hit_events(hits: Sequence[Hit]) -> int:
    """Emit a HIT_EVENT per new story per topic; return how many."""
    stories = story_hits(hits)
    for h, _ in stories:
        story = h.cluster_id or h.article_id
        emit_event(
            event=HIT_EVENT,
            resource={
                "prefect.resource.id": f"feedwatch.story.{story}",
                "prefect.resource.name": (h.title or h.url)[:200],
                "feedwatch.topic": h.topic,
            },
            payload={
                "topic": h.topic,
                "title": h.title,
                "link": h.url,
                "score": h.score,
                "article_id": h.article_id,
                "cluster_id": story,
                "snippet": h.snippet,
            },
        )
    return len(stories)


def create_webhook_automation(name: str, url: str, topics: Sequence[str] = ()) -> UUID:
    """Create (or replace) the automation POSTing every hit event to `url`.

    The webhook's URL is kept in a Prefect Webhook block (a secret), so it
    does not show in the automation. Only the hits of `topics`, when given.
    """
    from prefect.automations import Automation
    from prefect.blocks.webhook import Webhook
    from prefect.events.actions import CallWebhook
    from prefect.events.schemas.automations import EventTrigger, Posture
    from prefect.events.schemas.events import ResourceSpecification

    block = Webhook(
        method="POST",
        url=url,  # type: ignore[arg-type]  # pydantic turns it into a SecretStr
        headers={"Content-Type": "application/json"},  # type: ignore[arg-type]
        allow_private_urls=os.environ.get("FEEDWATCH_ALLOW_PRIVATE_NETWORKS") == "1",
    )
    # Prefect's methods are sync or async by context (typed as both): called sync here.
    block_id = cast(UUID, block.save(f"{name}-webhook", overwrite=True))
    with contextlib.suppress(ValueError):  # none of that name yet
        cast(Automation, Automation.read(name=name)).delete()
    automation = cast(
        Automation,
        Automation(
            name=name,
            description="feedwatch: POST every new topic hit to a webhook",
            trigger=EventTrigger(
                expect={HIT_EVENT},
                match=ResourceSpecification({"feedwatch.topic": list(topics)} if topics else {}),
                posture=Posture.Reactive,
                threshold=1,
            ),
            actions=[CallWebhook(block_document_id=block_id, payload=WEBHOOK_PAYLOAD)],
        ).create(),
    )
    assert automation.id is not None
    return automation.id
