"""`feedwatch alerts`: send new topic hits to a webhook through a Prefect automation."""

from __future__ import annotations

from typing import Annotated

import typer

from flows._cli import out

alerts_app = typer.Typer(
    help="Alerts: Prefect automations that act on feedwatch's hit events.", no_args_is_help=True
)


@alerts_app.command("create")
def alerts_create(
    webhook: Annotated[str, typer.Option("--webhook", help="URL to POST each hit to (JSON).")],
    name: Annotated[str, typer.Option("--name", help="The automation's name.")] = "feedwatch-hits",
    topic: Annotated[
        list[str] | None, typer.Option("--topic", help="Only hits of this topic (repeatable).")
    ] = None,
) -> None:
    """Create (or replace) an automation on the Prefect server (PREFECT_API_URL) that POSTs
    every feedwatch.topic.hit event — one per new story — to WEBHOOK."""
    from flows.alerts import HIT_EVENT, create_webhook_automation

    if not webhook.startswith(("http://", "https://")):
        out.print(f"[red]--webhook {webhook!r}: not an http(s) URL[/red]")
        raise typer.Exit(2)
    automation_id = create_webhook_automation(name, webhook, topic or ())
    scope = ", ".join(topic) if topic else "every topic"
    out.print(
        f"Automation {name!r} ({automation_id}): each {HIT_EVENT} event ({scope}) is POSTed"
        " to the webhook."
    )
