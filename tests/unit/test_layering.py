"""thywill's layering, as the import contracts in pyproject.toml state it."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
import tomllib
from pathlib import Path

import thywill

ROOT = Path(__file__).resolve().parents[2]


def contracts() -> list[dict]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return config["tool"]["importlinter"]["contracts"]


def test_the_import_contracts_are_kept():
    """No layer imports from a layer above it, and no modules import each other in a
    circle (import-linter, run as the command line would)."""
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint_imports), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_every_module_of_the_package_has_its_layer():
    """A new module or subpackage of thywill cannot stay outside the layering."""
    [layers] = [c["layers"] for c in contracts() if c["type"] == "layers"]
    layered = {name.strip() for layer in layers for name in layer.split("|")}
    modules = {info.name for info in pkgutil.iter_modules(thywill.__path__)}
    assert modules == layered
