"""A setting the environment gets wrong stops a command with one line naming it and exit
code 2, never a traceback, and never shows the value (it may be a secret)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "dissem" / "example"


def dissem(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.upper().startswith("DISSEM_")}
    return subprocess.run(
        [sys.executable, "-c", "from dissem.cli import main; main()", *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**clean, "DISSEM_DATABASE_URL": f"sqlite:///{tmp_path / 'd.db'}", **env},
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("name", "value", "said"),
    [
        ("DISSEM_HTTP_TIMEOUT", "abc-s3cret", "valid number"),
        ("DISSEM_CLAIM_BATCH", "many-s3cret", "valid integer"),
        ("DISSEM_TIMEZONE", "Nowhere/s3cret", "no time zone named"),
    ],
)
def test_a_bad_setting_is_one_line_and_exit_2(
    tmp_path: Path, name: str, value: str, said: str
) -> None:
    proc = dissem(tmp_path, {name: value}, "queue")
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    line = next(ln for ln in proc.stderr.splitlines() if ln.startswith(name))
    assert said in line
    if "time zone" not in said:  # the zone check names the zone, cut short, to help
        assert "s3cret" not in proc.stderr + proc.stdout


def test_validate_names_an_unknown_time_zone(tmp_path: Path) -> None:
    proc = dissem(
        tmp_path, {"DISSEM_TIMEZONE": "Nowhere/Zone"}, "validate", "--config", str(EXAMPLE)
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "DISSEM_TIMEZONE: no time zone named 'Nowhere/Zone'" in proc.stderr
