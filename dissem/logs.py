"""Structured logs, text or JSON, with post, channel and attempt ids; secrets redacted."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from dissem.redact import install_log_redaction, redact

#: ``extra=`` fields that are copied into every line when present.
CONTEXT_FIELDS: tuple[str, ...] = (
    "post_id",
    "channel",
    "platform",
    "release",
    "attempt_id",
    "worker",
    "state",
)


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                data[name] = value
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return redact(json.dumps(data, ensure_ascii=False, default=str))


class TextFormatter(logging.Formatter):
    """``time level logger: message [post_id=.. channel=..]``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        ctx = " ".join(
            f"{name}={getattr(record, name)}"
            for name in CONTEXT_FIELDS
            if getattr(record, name, None) is not None
        )
        return redact(f"{line} [{ctx}]" if ctx else line)


def setup_logging(level: str = "INFO", fmt: str = "text") -> None:
    """Configures the root logger once (idempotent): one stderr handler, redaction on."""
    root = logging.getLogger()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    for old in [h for h in root.handlers if getattr(h, "_dissem", False)]:
        root.removeHandler(old)
    handler._dissem = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("apscheduler").setLevel(max(logging.WARNING, root.level))
    logging.getLogger("urllib3").setLevel(max(logging.WARNING, root.level))
    install_log_redaction()
