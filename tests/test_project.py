"""The project's outside: deployments import, commands are documented."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.main import get_command

from cli.app import app
from cli.reference import commands, reference

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow  # imports the flows, Prefect with them
def test_every_prefect_yaml_entrypoint_imports() -> None:
    config = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    assert config["deployments"]
    for deployment in config["deployments"]:
        path, name = deployment["entrypoint"].split(":")
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        flow = getattr(module, name)
        assert flow.name == deployment["name"]
        assert set(deployment.get("parameters", {})) <= set(flow.parameters.properties)


def _command(path: tuple[str, ...]) -> Any:
    command = get_command(app)
    for name in path:
        command = command.commands[name]  # type: ignore[attr-defined]
    return command


def _readme_summary() -> str:
    readme = (ROOT / "README.md").read_text()
    start = readme.index("## Commands")
    return readme[start : readme.index("\n## ", start + 1)]


def test_every_command_has_help_and_is_in_the_readmes_summary() -> None:
    summary = _readme_summary()
    paths = list(commands())
    assert len(paths) >= 20
    for path in paths:
        name = " ".join(("feedwatch", *path))
        assert _command(path).help, name
        assert f"`{name}" in summary, f"{name} is missing from the README's command summary"


def test_the_command_reference_is_generated_from_the_commands() -> None:
    written = (ROOT / "docs" / "cli.md").read_text()
    # Every command and option is there, under its command's heading...
    for path in commands():
        name = " ".join(("feedwatch", *path))
        section = written.split(f"## `{name}`\n", 1)[1].split("\n## ", 1)[0]
        for param in _command(path).params:
            for opt in param.opts if param.param_type_name == "option" else []:
                assert opt in section, f"{name} {opt} is missing from docs/cli.md"
    # ... and the file is exactly what the commands print today.
    assert written == reference(), "docs/cli.md is stale: python -m cli.reference > docs/cli.md"


def test_readme_opens_with_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    first_block = readme.split("```")[1]
    assert "make demo" in first_block and "make test" in first_block
