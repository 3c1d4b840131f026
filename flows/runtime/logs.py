"""The logger flows and tasks write to: Prefect's run logger inside a run, else 'feedwatch'."""

from __future__ import annotations

import logging

from prefect import get_run_logger
from prefect.exceptions import MissingContextError

__all__ = ["run_logger"]


def run_logger() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    try:
        return get_run_logger()
    except MissingContextError:  # called outside a flow, e.g. task.fn() in a test
        return logging.getLogger("feedwatch")
