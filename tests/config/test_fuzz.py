"""Config fuzzing: hundreds of mutated copies of the example config, and for every one

- ``dissem validate`` exits 0 or 2, prints no traceback, and every problem it prints
  names a file, a line and a column (``path:line:column: ...``);
- it takes under 5 s of CPU (in process), and a sample run as processes under an address
  space limit of 500 MB and a CPU limit of 5 s exits 0 or 2 without a traceback;
- one broken file never stops the others: a variant that changes only release files still
  loads every other release, and a sample of them syncs into a database with the same
  posts for the untouched releases as the example itself.

The mutations (deleted keys, wrong types, huge and out-of-range values, alias bombs, unknown
tags, control characters and NUL bytes, invalid UTF-8, deep nesting, group and alias cycles,
bad paths and folders, template payloads, truncation, duplicate ids, huge files) are drawn
from a ``random.Random`` with a fixed seed, so every run (and CI) tests the same variants;
set ``DISSEM_FUZZ_SEED`` to explore others.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import select

import dissem
from dissem.cli import cli
from dissem.config.loader import load_config
from dissem.settings import Settings
from dissem.store.db import make_engine, make_session_factory
from dissem.store.migrate import upgrade
from dissem.store.models import Post
from dissem.worker.sync import sync

pytestmark = pytest.mark.slow

EXAMPLE = Path(dissem.__file__).parent / "example"
SEED = int(os.environ.get("DISSEM_FUZZ_SEED", "20261208"))
VARIANTS = 360
SUBPROCESS_SAMPLE = 6  # variants also run as a process under resource limits
SYNC_EVERY = 15  # every n-th variant that touches only releases is also synced
NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DUMPER: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
#: ``path:line:column: ...`` with line and column from 1.
PROBLEM = re.compile(r"^(?P<path>.+?):(?P<line>[1-9]\d*):(?P<column>[1-9]\d*): \S")

WRONG_TYPES: list[Any] = [[], {}, 0, -1, True, None, "text", 1.5, [1, [2]], {"a": {"b": 1}}, ""]
HUGE: list[Any] = [
    10**30,
    -(10**30),
    1e308,
    float("inf"),
    float("nan"),
    "x" * 50_000,
    "9" * 5000,
    "99999999999d",
    "-5",
    "P99999999999D",
    "0001-01-01 00:00:00",
    "9999-12-31T23:59:59-12:00",
    datetime(1, 1, 1),
    "http://[::1.x/a",
    "javascript:alert(1)",
    "file:///etc/passwd",
    "\x1b]0;pwned\x07",
    "mon-fri 25:99-07:00",
]
TAGS = [
    "!!python/object/apply:os.system ['true']",
    "!!python/name:os.system",
    "!custom 1",
    "!!binary aGVsbG8=",
    "!!set {a: null}",
    "!!omap [a: 1]",
    "!!int 0x1_0000_0000_0000_0000_0000_0000_0000_0000",
    "!!float 1e999999",
    "!!timestamp 0000-00-00",
]
TEMPLATES = [
    "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}",
    "{{ lipsum(n=10**8) }}",
    "{{ title|center(2000000000) }}",
    "{{ 'a' * 10**8 }}",
    "{{ '%0999999999d' % 1 }}",
    "{% set ns = namespace(l=[1]) %}{% for i in range(60) %}{% set ns.l = ns.l + ns.l %}"
    "{% endfor %}",
    "{{ title.__class__.__mro__[1].__subclasses__() }}",
    "{% for x in %}",
    "{{ " + "(" * 3000 + "1" + ")" * 3000 + " }}",
    "{{ " + "9" * 5000 + " }}",
    "{{ titel }}",
    "{% include 'x' %}",
    "{{ title }} {{ url }}",
]
IMAGE_SOURCES = [
    "a\x00b.jpg",
    "../../etc/passwd",
    "/dev/zero",
    "x" * 5000 + ".jpg",
    "missing.jpg",
    "fifo.jpg",
    "folder.jpg",
    "loop.jpg",
    "https://[::1.x/a.jpg",
    "",
]


@dataclass
class Variant:
    """One mutated config folder: files (relative path -> bytes, None = absent) and changes
    made to the folder itself after the files are written."""

    number: int
    files: dict[str, bytes | None]
    steps: list[str] = field(default_factory=list)
    folder_ops: list[Callable[[Path], None]] = field(default_factory=list)
    touched: set[str] = field(default_factory=set)  # files changed; "*" for the folder
    isolated: bool = True  # no change that may rightly break an untouched release

    @property
    def releases_only(self) -> bool:
        return self.isolated and all(p.startswith("releases/") for p in self.touched)

    def write(self, root: Path) -> None:
        (root / "releases").mkdir(parents=True)
        for rel, data in self.files.items():
            if data is not None:
                (root / rel).parent.mkdir(parents=True, exist_ok=True)  # channels/
                (root / rel).write_bytes(data)
        for op in self.folder_ops:
            op(root)


def base_files() -> dict[str, bytes | None]:
    files: dict[str, bytes | None] = {
        p.relative_to(EXAMPLE).as_posix(): p.read_bytes()
        for p in sorted(EXAMPLE.rglob("*"))
        if p.is_file() and "schemas" not in p.parts
    }
    return files


# --- structured mutations ----------------------------------------------------------------


def _split(rel: str, data: bytes) -> tuple[str, Any, str] | None:
    """(front matter prefix, parsed YAML, Markdown body) of a file, None if it does not
    parse (an earlier mutation broke it)."""
    try:
        text = data.decode("utf-8")
        if rel.endswith(".md"):
            _, front, body = text.split("---\n", 2)
            return "---\n", yaml.load(front, Loader=_LOADER), "---\n" + body
        return "", yaml.load(text, Loader=_LOADER), ""
    except (UnicodeDecodeError, ValueError, RecursionError, yaml.YAMLError):
        return None


def _join(prefix: str, data: Any, suffix: str) -> bytes:
    dumped = yaml.dump(data, Dumper=_DUMPER, sort_keys=False, allow_unicode=True, width=10**9)
    return (prefix + dumped + suffix).encode("utf-8")


def _paths(data: Any) -> Iterator[tuple[Any, ...]]:
    """Every key and index path in ``data``, breadth first, at most 20 levels deep."""
    queue: list[tuple[tuple[Any, ...], Any]] = [((), data)]
    while queue:
        path, node = queue.pop(0)
        if len(path) >= 20:
            continue
        items = (
            node.items()
            if isinstance(node, dict)
            else enumerate(node)
            if isinstance(node, list)
            else ()
        )
        for key, value in items:
            yield (*path, key)
            queue.append(((*path, key), value))


def _set(data: Any, path: tuple[Any, ...], value: Any, *, delete: bool = False) -> None:
    for part in path[:-1]:
        data = data[part]
    if delete:
        del data[path[-1]]
    else:
        data[path[-1]] = value


class Mutator:
    """Draws and applies mutations to a variant."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def pick_file(self, v: Variant) -> str:
        names = [n for n, d in v.files.items() if d is not None]
        releases = [n for n in names if n.startswith("releases/")]
        roll = self.rng.random()
        if roll < 0.35 and "channels.yaml" in names:
            return "channels.yaml"
        if roll < 0.42 and "feeds.yaml" in names:
            return "feeds.yaml"
        return self.rng.choice(releases or names)

    def structured(self, v: Variant, kind: str, make: Callable[[Any], Any]) -> None:
        rel = self.pick_file(v)
        data = v.files[rel]
        assert data is not None
        parts = _split(rel, data)
        if parts is None or not isinstance(parts[1], dict):
            return self.control_chars(v)
        prefix, tree, suffix = parts
        paths = list(itertools.islice(_paths(tree), 5000))  # an alias bomb has billions
        if not paths:
            return self.control_chars(v)
        path = self.rng.choice(paths)
        if kind == "delete":
            _set(tree, path, None, delete=True)
        else:
            _set(tree, path, make(tree))
        v.files[rel] = _join(prefix, tree, suffix)
        v.touched.add(rel)
        v.steps.append(f"{kind} {rel} {path!r:.60}")
        return None

    def delete_key(self, v: Variant) -> None:
        self.structured(v, "delete", lambda _: None)

    def wrong_type(self, v: Variant) -> None:
        self.structured(v, "wrong type", lambda _: self.rng.choice(WRONG_TYPES))

    def huge_value(self, v: Variant) -> None:
        self.structured(v, "huge value", lambda _: self.rng.choice(HUGE))

    def text_value(self, v: Variant, kind: str, text: str) -> None:
        """Replaces a random value by ``text`` written as is into the YAML."""
        self.structured(v, kind, lambda _: "__FUZZ__")
        for name, data in v.files.items():
            if data is not None and b"__FUZZ__" in data:
                v.files[name] = data.replace(b"__FUZZ__", text.encode())

    def unknown_tag(self, v: Variant) -> None:
        self.text_value(v, "tag", self.rng.choice(TAGS))

    def deep_nesting(self, v: Variant) -> None:
        n = self.rng.choice([70, 1000, 20000])
        text = "[" * n + "]" * n if self.rng.random() < 0.5 else "{a: " * n + "1" + "}" * n
        self.text_value(v, f"nesting {n}", text)

    def alias_bomb(self, v: Variant) -> None:
        rel = self.pick_file(v)
        data = v.files[rel]
        assert data is not None
        lines = ['x-a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
        for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
            lines.append(f"x-{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
        if self.rng.random() < 0.3:
            lines = ["x-r: &r [*r]"]  # an alias inside the block it names
        bomb = ("\n".join(lines) + "\n").encode()
        if rel.endswith(".md"):
            v.files[rel] = data.replace(b"---\n", b"---\n" + bomb, 1)
        else:
            v.files[rel] = bomb + data
        v.touched.add(rel)
        v.steps.append(f"alias bomb {rel}")

    def control_chars(self, v: Variant) -> None:
        rel = self.pick_file(v)
        data = v.files[rel]
        assert data is not None
        char = self.rng.choice([b"\x00", b"\x1b[2J", b"\x07", b"\xc2\x9b", b"\x08", b"\x7f"])
        at = self.rng.randrange(len(data) + 1)
        v.files[rel] = data[:at] + char + data[at:]
        v.touched.add(rel)
        v.steps.append(f"control {char!r} {rel}@{at}")

    def invalid_utf8(self, v: Variant) -> None:
        rel = self.pick_file(v)
        data = v.files[rel]
        assert data is not None
        junk = self.rng.choice([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf4\x90\x80\x80"])
        at = self.rng.randrange(len(data) + 1)
        v.files[rel] = data[:at] + junk + data[at:]
        v.touched.add(rel)
        v.steps.append(f"invalid UTF-8 {rel}@{at}")

    def truncate(self, v: Variant) -> None:
        rel = self.pick_file(v)
        data = v.files[rel]
        assert data is not None
        at = self.rng.randrange(len(data) + 1)
        v.files[rel] = data[:at]
        v.touched.add(rel)
        v.steps.append(f"truncate {rel}@{at}")

    def huge_file(self, v: Variant) -> None:
        rel = self.pick_file(v)
        v.files[rel] = b"# " + b"x" * 300_000 + b"\n" + (v.files[rel] or b"")
        v.touched.add(rel)
        v.steps.append(f"huge file {rel}")

    def group_cycles(self, v: Variant) -> None:
        data = v.files.get("channels.yaml")
        parts = _split("channels.yaml", data) if data else None
        if parts is None or not isinstance(parts[1], dict):
            return self.control_chars(v)
        tree = parts[1]
        groups = tree.get("groups") if isinstance(tree.get("groups"), dict) else {}
        n = self.rng.choice([2, 110, 1500])
        names = [f"fuzz-{i}" for i in range(n)]
        shape = self.rng.choice(["chain", "ring", "all"])
        for i, name in enumerate(names):
            if shape == "all" and n <= 110:
                groups[name] = [m for m in names if m != name]
            else:
                groups[name] = [names[(i + 1) % n]] if shape == "ring" or i + 1 < n else ["hq-x"]
        tree["groups"] = groups
        v.files["channels.yaml"] = _join("", tree, "")
        v.touched.add("channels.yaml")
        v.steps.append(f"groups {shape} of {n}")
        return None

    def template(self, v: Variant) -> None:
        payload = self.rng.choice(TEMPLATES)
        if self.rng.random() < 0.5:
            rel = "channels.yaml"
            parts = _split(rel, v.files[rel] or b"")
            if parts and isinstance(parts[1], dict) and isinstance(parts[1].get("channels"), list):
                tree = parts[1]
                channel = self.rng.choice(tree["channels"])
                if isinstance(channel, dict):
                    channel["template"] = payload
                    v.files[rel] = _join("", tree, "")
                    v.touched.add(rel)
                    v.steps.append(f"channel template {payload[:40]!r}")
                    return
        rel = self.rng.choice([n for n in v.files if n.startswith("releases/")] or ["x"])
        parts = _split(rel, v.files.get(rel) or b"")
        if parts is None or not isinstance(parts[1], dict):
            return self.control_chars(v)
        prefix, tree, suffix = parts
        tree.setdefault("overrides", {})
        if isinstance(tree["overrides"], dict):
            platform = self.rng.choice(["x", "mastodon", "bluesky", "telegram"])
            tree["overrides"][platform] = {"text": payload}
        v.files[rel] = _join(prefix, tree, suffix)
        v.touched.add(rel)
        v.steps.append(f"override text {rel} {payload[:40]!r}")
        return None

    def image(self, v: Variant) -> None:
        rel = self.rng.choice([n for n in v.files if n.startswith("releases/")])
        parts = _split(rel, v.files[rel] or b"")
        if parts is None or not isinstance(parts[1], dict):
            return self.control_chars(v)
        prefix, tree, suffix = parts
        src = self.rng.choice(IMAGE_SOURCES)
        tree["image"] = {"src": src, "alt": "fuzz"}
        v.files[rel] = _join(prefix, tree, suffix)
        v.touched.add(rel)
        v.steps.append(f"image {src[:30]!r} in {rel}")
        v.folder_ops.append(_image_targets)
        return None

    def folder(self, v: Variant) -> None:
        kind = self.rng.choice(
            ["releases missing", "releases file", "releases dangling", "releases loop",
             "release dangling", "release loop", "release folder", "release fifo",
             "channels folder", "channels dangling", "feeds folder"]
        )  # fmt: skip
        v.folder_ops.append(lambda root: _folder_op(root, kind))
        v.touched.add("*")
        v.steps.append(kind)

    def duplicate_id(self, v: Variant) -> None:
        releases = sorted(n for n in v.files if n.startswith("releases/") and n.endswith(".yaml"))
        rel, other = self.rng.sample(releases, 2)
        parts = _split(rel, v.files[rel] or b"")
        if parts is None or not isinstance(parts[1], dict):
            return self.control_chars(v)
        parts[1]["id"] = Path(other).stem
        v.files[rel] = _join("", parts[1], "")
        v.touched.add(rel)
        v.isolated = False  # two files with one id: both are left out, by design
        v.steps.append(f"duplicate id {rel} = {other}")
        return None


def _image_targets(root: Path) -> None:
    """What the fuzzed image paths point at: a FIFO, a folder, a link loop."""
    if not (root / "fifo.jpg").exists():
        os.mkfifo(root / "fifo.jpg")
        (root / "folder.jpg").mkdir()
        os.symlink(root / "loop.jpg", root / "loop.jpg")


def _folder_op(root: Path, kind: str) -> None:
    releases = root / "releases"
    if not releases.is_dir() or releases.is_symlink():
        return  # an earlier step of the same variant took the folder away
    files = sorted(p for p in releases.glob("*.yaml") if p.is_file() and not p.is_symlink())
    if kind.startswith("release ") and not files:
        return
    first = files[0] if files else releases / "none.yaml"
    if kind.startswith("releases "):
        shutil.rmtree(releases)
        if kind == "releases file":
            releases.write_text("not a folder\n")
        elif kind == "releases dangling":
            os.symlink(root / "nowhere", releases)
        elif kind == "releases loop":
            os.symlink(releases, releases)
    elif kind == "release dangling":
        first.unlink()
        os.symlink(root / "nowhere.yaml", first)
    elif kind == "release loop":
        first.unlink()
        os.symlink(first, first)
    elif kind == "release folder":
        first.unlink()
        first.mkdir()
    elif kind == "release fifo":
        first.unlink()
        os.mkfifo(first)
    else:
        name = "channels.yaml" if kind.startswith("channels") else "feeds.yaml"
        if not (root / name).is_file() or (root / name).is_symlink():
            return
        (root / name).unlink()
        if kind.endswith("folder"):
            (root / name).mkdir()
        else:
            os.symlink(root / "nowhere", root / name)


def make_variants(seed: int = SEED, count: int = VARIANTS) -> list[Variant]:
    rng = random.Random(seed)
    mutator = Mutator(rng)
    kinds: list[Callable[[Variant], None]] = [
        mutator.delete_key,
        mutator.wrong_type,
        mutator.huge_value,
        mutator.unknown_tag,
        mutator.deep_nesting,
        mutator.alias_bomb,
        mutator.control_chars,
        mutator.invalid_utf8,
        mutator.truncate,
        mutator.huge_file,
        mutator.group_cycles,
        mutator.template,
        mutator.image,
        mutator.folder,
        mutator.duplicate_id,
    ]
    variants = []
    base = base_files()
    for number in range(count):
        v = Variant(number, dict(base))
        kinds[number % len(kinds)](v)  # every kind equally often
        for _ in range(rng.choice([0, 0, 0, 1, 2])):
            rng.choice(kinds)(v)
        variants.append(v)
    return variants


# --- checks ------------------------------------------------------------------------------


def check_output(v: Variant, exit_code: int, stdout: str, stderr: str) -> None:
    label = f"variant {v.number} ({'; '.join(v.steps)})"
    assert exit_code in (0, 2), f"{label}: exit {exit_code}\n{stdout[-2000:]}{stderr[-2000:]}"
    assert "Traceback" not in stdout + stderr, f"{label}:\n{stderr[-3000:]}"
    lines = stdout.splitlines()
    if exit_code == 0:
        assert len(lines) == 1 and ": ok (" in lines[0], f"{label}: {stdout[-2000:]}"
        return
    assert lines, f"{label}: exit 2 without a problem"
    for line in lines:
        assert PROBLEM.match(line), f"{label}: not located: {line[:300]!r}"


def check_json(v: Variant, exit_code: int, stdout: str, stderr: str) -> dict[str, Any]:
    """``validate --json``: the same promises, every problem with a path, line and column."""
    label = f"variant {v.number} ({'; '.join(v.steps)})"
    assert exit_code in (0, 2), f"{label}: exit {exit_code}\n{stdout[-2000:]}{stderr[-2000:]}"
    assert "Traceback" not in stdout + stderr, f"{label}:\n{stderr[-3000:]}"
    report: dict[str, Any] = json.loads(stdout)
    assert report["ok"] == (exit_code == 0), label
    for problem in report["problems"]:
        assert problem["path"] and problem["line"] >= 1 and problem["column"] >= 1, problem
    return report


@pytest.fixture(scope="module")
def variants() -> list[Variant]:
    return make_variants()


@pytest.fixture(scope="module")
def base_posts(tmp_path_factory: pytest.TempPathFactory) -> set[tuple[str, str]]:
    return synced_posts(EXAMPLE, tmp_path_factory.mktemp("base"))


def synced_posts(root: Path, work: Path) -> set[tuple[str, str]]:
    url = f"sqlite:///{work / 'fuzz.db'}"
    engine = make_engine(url)
    try:
        upgrade(engine)
        factory = make_session_factory(engine)
        settings = Settings(_env_file=None, database_url=url, config_dir=root)  # type: ignore[call-arg]
        sync(factory, settings, NOW)
        with factory() as s:
            return {(p.release_id, p.channel) for p in s.scalars(select(Post))}
    finally:
        engine.dispose()


def test_the_variants_cover_every_kind_of_mutation(variants: list[Variant]) -> None:
    steps = " ".join(step for v in variants for step in v.steps)
    for kind in ("delete", "wrong type", "huge value", "tag", "nesting", "alias bomb",
                 "control", "invalid UTF-8", "truncate", "huge file", "groups",
                 "template", "image", "releases", "duplicate id"):  # fmt: skip
        assert kind in steps
    assert len(variants) >= 300


def test_validate_never_fails_badly_and_broken_files_stop_nothing(
    variants: list[Variant],
    base_posts: set[tuple[str, str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DISSEM_TIMEZONE", raising=False)
    runner = CliRunner()
    base_ids = {r.release.id for r in load_config(EXAMPLE).releases}
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    synced = 0
    for v in variants:
        root = tmp_path / f"v{v.number}"
        v.write(root)
        # variants that change only release files are read as JSON, to see which broke
        as_json = ["--json"] if v.releases_only else []
        started = time.process_time()
        result = runner.invoke(cli, ["validate", "--config", str(root), *as_json])
        spent = time.process_time() - started
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            f"variant {v.number} ({'; '.join(v.steps)}): {result.exception!r}"
        )
        assert spent < 5, f"variant {v.number} ({'; '.join(v.steps)}): {spent:.1f} s"
        if not v.releases_only:
            check_output(v, result.exit_code, result.stdout, result.stderr)
            continue
        report = check_json(v, result.exit_code, result.stdout, result.stderr)
        untouched = {Path(n).stem for n in v.files if n.startswith("releases/")} - {
            Path(n).stem for n in v.touched
        }
        broken = untouched & base_ids & set(report["broken_release_ids"])
        assert not broken, f"variant {v.number} ({'; '.join(v.steps)}): {broken}"
        assert report["counts"]["releases"] >= len(untouched & base_ids)
        if v.number % SYNC_EVERY == 0:
            posts = synced_posts(root, root)
            want = {(r, c) for r, c in base_posts if r in untouched}
            assert {(r, c) for r, c in posts if r in untouched} == want, f"variant {v.number}"
            synced += 1
        shutil.rmtree(root)
    assert synced >= 5
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    assert grown_mb < 500


_MAIN = "from dissem.cli import main; main()"


def _limits() -> None:  # pragma: no cover - runs in the child process
    resource.setrlimit(resource.RLIMIT_AS, (500 * 2**20, 500 * 2**20))
    resource.setrlimit(resource.RLIMIT_CPU, (5, 5))


def test_validate_as_a_process_stays_within_5_s_and_500_mb(
    variants: list[Variant], tmp_path: Path
) -> None:
    """A sample run as real processes: an address space limit makes a memory blow-up fail
    the run, and a CPU limit a hang (a killed process has no exit code 0 or 2)."""
    heavy = [v for v in variants if any(w in " ".join(v.steps) for w in ("template", "bomb"))]
    spread = variants[:: len(variants) // SUBPROCESS_SAMPLE]
    sample = list({v.number: v for v in heavy[: SUBPROCESS_SAMPLE // 2] + spread}.values())
    env = {**os.environ, "DISSEM_CONFIG_DIR": "config"}
    env.pop("DISSEM_TIMEZONE", None)
    for v in sample[:SUBPROCESS_SAMPLE]:
        root = tmp_path / f"v{v.number}"
        v.write(root)
        proc = subprocess.run(
            [sys.executable, "-c", _MAIN, "validate", "--config", str(root)],
            capture_output=True,
            text=True,
            timeout=60,  # the CPU limit ends a hang; this only guards a stuck machine
            preexec_fn=_limits,
            cwd=tmp_path,
            env=env,
            check=False,
        )
        check_output(v, proc.returncode, proc.stdout, proc.stderr)
