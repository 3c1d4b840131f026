"""`feedwatch alerts`: send new topic hits to a webhook through a Prefect automation."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.common import Command, exit_codes, out

alerts_app = typer.Typer(
    help="Alerts: Prefect automations that act on feedwatch's hit events.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@alerts_app.command("create", cls=Command)
def alerts_create(
    webhook: Annotated[
        str, typer.Option("--webhook", metavar="URL", help="URL to POST each hit to (JSON).")
    ],
    name: Annotated[
        str, typer.Option("--name", metavar="NAME", help="The automation's name.")
    ] = "feedwatch-hits",
    topic: Annotated[
        list[str] | None,
        typer.Option("--topic", metavar="NAME", help="Only hits of this topic (repeatable)."),
    ] = None,
) -> None:
    """Create (or replace) the automation that POSTs each new story to a webhook.

    It lives on the Prefect server of PREFECT_API_URL and sends every
    feedwatch.topic.hit event (one per new story and topic) to the webhook's URL.
    """
    from extractors.errors import ConfigError
    from flows.runtime.prefect_api import require_server

    with exit_codes():
        if not webhook.startswith(("http://", "https://")):
            raise ConfigError(f"--webhook {webhook!r}: not an http(s) URL")
        require_server("feedwatch alerts create")
        from flows.alerts import HIT_EVENT, create_webhook_automation

        automation_id = create_webhook_automation(name, webhook, topic or ())
    scope = ", ".join(topic) if topic else "every topic"
    out.print(
        f"Automation {name!r} ({automation_id}): each {HIT_EVENT} event ({scope}) is POSTed"
        " to the webhook."
    )
