"""The README's promises: its test command is what CI runs; the Dagster code location loads."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = text.split("```bash", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line and not line.startswith("#")]


def test_readme_opens_with_demo_and_test_commands_and_ci_runs_the_test_one() -> None:
    demo, tests = _readme_commands()
    assert demo.endswith("kn-zoho demo")
    assert tests.endswith("pytest")
    ci_script = (ROOT / ".ci" / "run").read_text().splitlines()
    assert tests in ci_script


@pytest.mark.parametrize("name", ["pyproject.toml", "workspace.yaml", "dagster.yaml",
                                  "README.md", "kn_zoho", "kn_zoho_tests"])
def test_required_layout(name: str) -> None:
    assert (ROOT / name).exists()


def test_dagster_definitions_validate() -> None:
    dagster = Path(sys.executable).with_name("dagster")
    result = subprocess.run(  # noqa: S603 (our own venv's dagster)
        [str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
