"""The README's "From the demo to your own accounts" walkthrough, run as written (issue 12).

The first ``sh`` block of that section is run by bash in an empty folder with a fresh
environment (no ``DISSEM_`` variable, no credential), ``.venv/bin/dissem`` being this
checkout's. Only three lines are adapted: the test's sandbox (in-process, on a free port)
stands in for ``dissem sandbox &`` and its address for ``:8765``, and ``dissem run`` is
the test's to stop. A post must be published in the sandbox within 30 s of ``dissem run``.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from dissem.sandbox import RunningSandbox, start_sandbox

README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = "### From the demo to your own accounts"


def walkthrough() -> list[str]:
    """The lines of the section's first ``sh`` block."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index(SECTION) :]
    found = re.search(r"```sh\n(.*?)\n```", section, re.S)
    assert found is not None, "no sh block in the walkthrough section"
    return found.group(1).splitlines()


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    with start_sandbox() as running:
        yield running


def test_the_walkthrough_block_names_only_files_it_makes() -> None:
    lines = walkthrough()
    made = {m for line in lines for m in re.findall(r"cat > (\S+)", line)}
    previewed = {m for line in lines for m in re.findall(r"dissem preview (\S+)", line)}
    assert previewed and previewed <= made  # issue 12: it named a file init does not write
    assert any(re.match(r"\.venv/bin/dissem init --config myconfig\b", x) for x in lines)
    assert sum(x.startswith(".venv/bin/dissem run") for x in lines) == 1


def test_the_walkthrough_publishes_a_post_within_30_s_of_dissem_run(
    tmp_path: Path, sandbox: RunningSandbox
) -> None:
    script: list[str] = ["set -e"]
    adapted = 0
    for line in walkthrough():
        if line.startswith(".venv/bin/dissem sandbox"):
            adapted += 1
            continue  # the test's own sandbox
        if "127.0.0.1:8765" in line and line.startswith("export "):
            adapted += 1
            line = line.replace("http://127.0.0.1:8765", sandbox.url)
        if line.startswith(".venv/bin/dissem run"):
            adapted += 1
            script.append("date +%s.%N > run-started")
            line = "exec " + line
        script.append(line)
    assert adapted == 3, "the walkthrough changed: adapt this test"
    (tmp_path / "walkthrough.sh").write_text("\n".join(script) + "\n")
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "dissem").symlink_to(Path(sys.executable).parent / "dissem")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISSEM_")}
    env.update(EDITOR="true", DISSEM_LOG_LEVEL="INFO")
    log = (tmp_path / "walkthrough.log").open("wb")
    proc = subprocess.Popen(
        ["bash", "walkthrough.sh"], cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    published: list[dict[str, object]] = []
    try:
        started = None
        deadline = time.monotonic() + 60  # init, validate and preview come first
        while time.monotonic() < deadline and proc.poll() is None:
            marker = tmp_path / "run-started"
            if started is None and marker.exists() and marker.read_text().strip():
                started = time.monotonic()
                deadline = started + 30
            if started is not None:
                published = requests.get(f"{sandbox.url}/_sandbox/posts", timeout=5).json()
                if published:
                    break
            time.sleep(0.1)
        elapsed = None if started is None else time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        log.close()
    output = (tmp_path / "walkthrough.log").read_text()
    assert started is not None, f"dissem run was never reached:\n{output}"
    assert published, f"nothing published within 30 s of dissem run:\n{output}"
    assert elapsed is not None and elapsed < 30
    assert "Traceback" not in output, output
    assert "Our first release through dissem" in str(published[0]["text"])
    # the worker said it, in one line with the post's address (stopping, it recorded it)
    assert re.search(r"published post \d+ on main-(mastodon|telegram): http://127\.0\.0\.1", output)
    assert "sandbox placeholders stand in" in output
