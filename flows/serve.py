"""`feedwatch serve`: every deployment of prefect.yaml, served from this one process.

The one-process alternative to a work pool and a worker: Prefect's `serve`
runs the flows on their schedules here. The deployments, their parameters and
schedules are read from prefect.yaml, so both ways run the same thing.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from extractors.errors import ConfigError

__all__ = ["DeploymentSpec", "read_deployments", "serve"]


@dataclass(frozen=True)
class DeploymentSpec:
    name: str
    entrypoint: str  # path/to/file.py:flow_function
    description: str
    parameters: dict[str, Any]
    interval: float | None
    cron: str | None
    timezone: str | None
    concurrency_limit: int | None


def read_deployments(path: str | Path = "prefect.yaml") -> list[DeploymentSpec]:
    """The deployments of a prefect.yaml (a schedule each at most, as feedwatch's have)."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as e:
        raise ConfigError(f"{path}: {e}") from e
    specs = []
    for d in data.get("deployments") or []:
        schedules = d.get("schedules") or [{}]
        if len(schedules) > 1:
            raise ConfigError(f"{path}: deployment {d.get('name')!r}: one schedule at most")
        s = schedules[0]
        specs.append(
            DeploymentSpec(
                name=d["name"],
                entrypoint=d["entrypoint"],
                description=d.get("description", ""),
                parameters=d.get("parameters") or {},
                interval=s.get("interval"),
                cron=s.get("cron"),
                timezone=s.get("timezone"),
                concurrency_limit=d.get("concurrency_limit"),
            )
        )
    return specs


def _flow_of(entrypoint: str) -> Any:
    file, _, function = entrypoint.partition(":")
    module = file.removesuffix(".py").replace("/", ".")
    return getattr(importlib.import_module(module), function)


def serve(path: str | Path = "prefect.yaml", limit: int = 2) -> None:
    """Serve every deployment of prefect.yaml until interrupted."""
    from prefect import serve as prefect_serve
    from prefect.client.schemas.schedules import CronSchedule, IntervalSchedule

    from flows.runtime.liveness import ensure_automation

    ensure_automation()  # served runs that are killed are shown Crashed (flows.runtime.liveness)

    deployments = []
    for spec in read_deployments(path):
        schedule: Any = None
        if spec.interval:
            schedule = IntervalSchedule(interval=timedelta(seconds=spec.interval))
        elif spec.cron:
            schedule = CronSchedule(cron=spec.cron, timezone=spec.timezone or "UTC")
        deployments.append(
            _flow_of(spec.entrypoint).to_deployment(
                name=spec.name,
                description=spec.description,
                parameters=spec.parameters,
                schedule=schedule,
                concurrency_limit=spec.concurrency_limit,
            )
        )
    prefect_serve(*deployments, limit=limit)
