"""The worker's ``.env`` and settings, read at start and again on SIGHUP.

Channel credentials are environment variables named in ``channels.yaml``; dissem.settings
reads ``.env`` for the ``DISSEM_`` settings only and never puts anything into the
environment, so credentials written in ``.env`` had no effect. :class:`EnvFile` puts each
``.env`` variable into the process environment (never over one the real environment set)
and, on SIGHUP, updates or removes those it put there. :func:`apply_settings` copies the
changed settings onto the worker's live :class:`~dissem.settings.Settings` (every part of
the worker holds that one object) except those only a restart can change.

What changed is logged by name only: values are secrets.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values  # python-dotenv: the reader dissem.settings uses too

from dissem.redact import register_secret
from dissem.settings import ENV_FILE, Settings

__all__ = ["RESTART_ONLY", "EnvChanges", "EnvFile", "apply_settings", "env_file_of"]

#: settings a running worker cannot take up: the database, its own name and threads, the
#: health port, the job intervals (the scheduler has them)
RESTART_ONLY = frozenset(
    {
        "database_url",
        "worker_id",
        "concurrency",
        "health_port",
        "health_host",
        "sync_interval",
        "dispatch_interval",
        "reconcile_interval",
        "metrics_interval",
        "feed_check_interval",
        "log_level",
        "log_format",
    }
)


def env_file_of(settings: Settings) -> Path:
    """The ``.env`` file the settings are read from (relative to the working folder)."""
    return ENV_FILE


@dataclass
class EnvChanges:
    """Variable names only."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # set in the real environment: it wins

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.removed)

    def describe(self) -> str:
        parts = [
            f"{what} {', '.join(names)}"
            for what, names in (
                ("added", self.added),
                ("changed", self.changed),
                ("removed", self.removed),
                ("kept from the environment", self.ignored),
            )
            if names
        ]
        return "; ".join(parts) or "no change"


class EnvFile:
    """The variables of one ``.env`` file, kept in ``environ`` (``os.environ``)."""

    def __init__(self, path: Path, environ: MutableMapping[str, str] | None = None) -> None:
        self.path = path
        self.environ = os.environ if environ is None else environ
        self._mine: dict[str, str] = {}  # what this file put into the environment

    def load(self) -> EnvChanges:
        """Reads the file (a missing one is empty) and brings the environment in line."""
        values = {
            k: v for k, v in dotenv_values(self.path).items() if v is not None
        } if self.path.is_file() else {}  # fmt: skip
        out = EnvChanges()
        for name, value in values.items():
            if value:
                register_secret(value)  # a credential: never in a log line
            current = self.environ.get(name)
            if name not in self._mine and current is not None:
                if current != value:
                    out.ignored.append(name)
                continue
            if current is None:
                out.added.append(name)
            elif current != value:
                out.changed.append(name)
            self.environ[name] = value
            self._mine[name] = value
        for name in [n for n in self._mine if n not in values]:
            del self._mine[name]
            if self.environ.pop(name, None) is not None:
                out.removed.append(name)
        return out


def apply_settings(live: Settings, fresh: Settings) -> tuple[list[str], list[str]]:
    """Copies ``fresh``'s changed values onto ``live``; returns the names (``DISSEM_...``)
    applied and those that need a restart (left as they were)."""
    applied: list[str] = []
    restart: list[str] = []
    for name in type(live).model_fields:
        new = getattr(fresh, name)
        if getattr(live, name) == new:
            continue
        env_name = f"DISSEM_{name.upper()}"
        if name in RESTART_ONLY:
            restart.append(env_name)
            continue
        setattr(live, name, new)
        applied.append(env_name)
    return applied, restart
