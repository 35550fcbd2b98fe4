"""Loading hook scripts: every .py file of a folder, reloaded when it changes."""

from __future__ import annotations

import dataclasses
import importlib.util
import logging
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from thywill.exceptions import ConfigurationError

logger = logging.getLogger(__name__)

MODULE_PREFIX = "thywill_hooks."


@dataclasses.dataclass(frozen=True, slots=True)
class Script:
    """One loaded script: its file, its module and the file's signature when loaded."""

    path: Path
    module: ModuleType
    signature: tuple[int, int]


def _signature(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_mtime_ns, stat.st_size


def _module_name(namespace: str, path: Path) -> str:
    """The name of a script's module: ``thywill_hooks.[<namespace>.]<file stem>``."""
    prefix = f"{MODULE_PREFIX}{namespace}." if namespace else MODULE_PREFIX
    return prefix + path.stem


def _load(path: Path, name: str) -> Script:
    """Import one script as a fresh module named ``name`` (its state starts anew)."""
    signature = _signature(path)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    previous = sys.modules.get(name)
    sys.modules[name] = module  # dataclasses and pickling look a module up by name
    try:
        spec.loader.exec_module(module)
    except BaseException:
        if previous is None:
            del sys.modules[name]
        else:
            sys.modules[name] = previous
        raise
    return Script(path, module, signature)


class HookScripts:
    """The scripts of one folder, in file-name order.

    Args:
        path: the folder; every ``*.py`` file in it (not in subfolders) is a script.
        reload: check the files before each event and reload those that changed (a
            changed script starts with fresh module state; one that fails to load is
            reported once and its previous version kept).
        namespace: keeps the modules of this folder apart from another folder's
            scripts of the same file name (an application's folder uses its name).

    Raises:
        ConfigurationError: a script cannot be loaded at start (``thywill.E010``).
    """

    def __init__(self, path: Path, *, reload: bool, namespace: str = "") -> None:
        self.path = path
        self.reload = reload
        self.namespace = namespace
        self._lock = threading.Lock()
        self._scripts: dict[Path, Script] = {}
        self._broken: dict[Path, tuple[int, int]] = {}
        self._functions: dict[str, list[tuple[Script, Callable[..., Any]]]] = {}
        for file in self._files():
            try:
                self._scripts[file] = _load(file, _module_name(namespace, file))
            except Exception as exc:
                raise ConfigurationError(
                    f"Hook script {file} cannot be loaded: {type(exc).__name__}: {exc}",
                    check_id="thywill.E010",
                ) from exc
        self._publish()

    def functions(self, name: str) -> list[tuple[Script, Callable[..., Any]]]:
        """Every script's function called ``name``, in file-name order."""
        return self._functions.get(name, [])

    @property
    def scripts(self) -> list[Script]:
        """The loaded scripts, in file-name order."""
        return list(self._scripts.values())

    def refresh(self) -> None:
        """Reload changed scripts, load new ones, forget removed ones."""
        with self._lock:
            files = self._files()
            changed = False
            for gone in set(self._scripts) - set(files):
                del self._scripts[gone]
                sys.modules.pop(_module_name(self.namespace, gone), None)
                changed = True
            for file in files:
                try:
                    signature = _signature(file)
                except FileNotFoundError:
                    continue
                current = self._scripts.get(file)
                if current is not None and current.signature == signature:
                    continue
                if self._broken.get(file) == signature:
                    continue  # already reported; wait for the next change
                try:
                    self._scripts[file] = _load(file, _module_name(self.namespace, file))
                except Exception:
                    self._broken[file] = signature
                    logger.exception(
                        "Hook script %s failed to load; keeping its previous version", file
                    )
                    continue
                self._broken.pop(file, None)
                logger.info("Hook script %s (re)loaded", file)
                changed = True
            if changed:
                self._scripts = dict(sorted(self._scripts.items()))
                self._publish()

    def _files(self) -> list[Path]:
        return sorted(p for p in self.path.glob("*.py") if p.is_file())

    def _publish(self) -> None:
        functions: dict[str, list[tuple[Script, Callable[..., Any]]]] = {}
        for script in self._scripts.values():
            for name, value in vars(script.module).items():
                if name.startswith(("pre_", "post_")) and callable(value):
                    functions.setdefault(name, []).append((script, value))
        self._functions = functions
