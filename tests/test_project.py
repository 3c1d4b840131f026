"""The project's outside: deployments import, commands are documented."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import yaml
from typer.main import get_command

from flows.cli import app

ROOT = Path(__file__).resolve().parent.parent


def test_every_prefect_yaml_entrypoint_imports() -> None:
    config = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    assert config["deployments"]
    for deployment in config["deployments"]:
        path, name = deployment["entrypoint"].split(":")
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        flow = getattr(module, name)
        assert flow.name == deployment["name"]
        assert set(deployment.get("parameters", {})) <= set(flow.parameters.properties)


def _commands(group: Any, prefix: str = "feedwatch") -> list[tuple[str, Any]]:
    found = []
    for name, command in group.commands.items():
        found.append((f"{prefix} {name}", command))
        if hasattr(command, "commands"):
            found += _commands(command, f"{prefix} {name}")
    return found


def test_every_command_has_help_and_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    commands = _commands(get_command(app))
    assert len(commands) >= 10
    for name, command in commands:
        assert command.help, name
        assert name in readme, name


def test_readme_opens_with_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    first_block = readme.split("```")[1]
    assert "make demo" in first_block and "make test" in first_block
