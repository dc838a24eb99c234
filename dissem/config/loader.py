"""Reading a config folder: ``channels.yaml`` and/or ``channels/**/*.yaml|*.yml``,
``releases/*.yaml|*.yml|*.md``, ``feeds.yaml``.

Contract:

- Nothing here raises on a bad file: every mistake becomes a located
  :class:`~dissem.errors.ConfigProblem` in ``LoadedConfig.problems``, and every file is read
  even after an earlier one failed.
- A release file that is present but wrong (its own mistakes or a cross-file one such as an
  unknown target) is left out of ``releases`` and its id goes into ``broken_release_ids``,
  so that sync leaves the stored release untouched instead of treating it as deleted.
  Likewise an invalid channel goes into ``broken_channel_names``.
- A ``releases`` folder that cannot be read (missing, a file, a dangling link, a link
  loop, no permission) is a problem and sets ``releases_unreadable``: sync then keeps every
  stored release as it is, never reads it as "no releases". A release file that cannot be
  read (a dangling link, no permission) is a broken release, kept likewise.
- Naive times in releases are read in ``timezone`` (``DISSEM_TIMEZONE``).
- Channels may be split over files: ``channels.yaml`` and every YAML file under a
  ``channels/`` folder (one per office, say), each with ``channels:`` and ``groups:``. Names
  are unique across them, groups may name channels and groups of any file, each problem
  is located in its own file, and the size cap holds per file (a 10,000-channel config
  fits). A channel file that cannot be read at all sets ``channels_incomplete``: its
  channels are unknown, so sync must not take their absence for removal.
- Top-level keys starting with ``x-`` are ignored in every file; they hold YAML anchors
  (``x-embassy: &embassy {...}`` then ``<<: *embassy``).
"""

from __future__ import annotations

import errno
import gc
import hashlib
import json
import os
import re
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from dissem.config.checks import ConfigSources, run_checks
from dissem.config.locate import SourceFile, display_path
from dissem.config.models import (
    Channel,
    ChannelsFile,
    Feed,
    FeedsFile,
    LoadedConfig,
    LoadedRelease,
    Release,
    check_timezone,
)
from dissem.config.quote import shown
from dissem.config.yamlsafe import MAX_BYTES, parse_yaml, read_limited, split_front_matter
from dissem.errors import ConfigProblem, YamlProblem

__all__ = [
    "CHANNELS_FOLDER",
    "CHANNEL_SUFFIXES",
    "RELEASE_SUFFIXES",
    "channel_files",
    "collector_paused",
    "content_hash",
    "load_config",
    "load_release_file",
    "release_files",
]

RELEASE_SUFFIXES = (".yaml", ".yml", ".md")
CHANNELS_FOLDER = "channels"  #: folder of channel files beside (or instead of) channels.yaml
CHANNEL_SUFFIXES = (".yaml", ".yml")

_M = TypeVar("_M", bound=BaseModel)
_T = TypeVar("_T")


def load_config(root: Path, *, timezone: str = "Asia/Jakarta") -> LoadedConfig:
    """Reads the config folder ``root``; problems are collected, never raised."""
    cfg = LoadedConfig(root=root)
    if not root.is_dir():
        cfg.problems.append(
            ConfigProblem(
                display_path(root),
                1,
                1,
                "",
                "config folder not found",
                "run `dissem init DIR` or set DISSEM_CONFIG_DIR to your config folder",
            )
        )
        return cfg
    zone_ok = _check_zone(timezone, cfg)
    sources = ConfigSources()
    _load_channels(root, cfg, sources)
    _load_feeds(root / "feeds.yaml", cfg, sources)
    try:
        paths = release_files(root, strict=True)
    except OSError as e:
        cfg.problems.append(_unreadable_folder(root / "releases", e))
        cfg.releases_unreadable = True
        paths = []
    for path in paths:
        loaded, problems, source = _cached(
            "release",
            path,
            lambda path=path: _read_release(  # type: ignore[misc]
                path, root=root, timezone=timezone, check_image=False
            ),
            timezone,
            str(root),
        )
        if loaded is not None:  # checked each time: the image file may come or go
            problems = _check_image(loaded.release, root, source)
            loaded = None if problems else loaded
        cfg.problems.extend(problems)
        if loaded is not None:
            sources.releases.append((loaded, source))
        else:
            cfg.broken_release_ids.add(_release_id_of(source, path))
            sources.broken_releases.append(source)
    run_checks(cfg, sources)
    cfg.problems.sort(key=lambda p: (p.path, p.line, p.column))
    if not zone_ok:
        # Naive times cannot be placed without a valid zone: keep every stored release as is.
        cfg.broken_release_ids.update(r.release.id for r in cfg.releases)
        cfg.releases.clear()
    return cfg


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cycle collector paused for a short command that loads a large config and
    exits (``dissem validate``): loading 10,000 channels keeps hundreds of thousands of
    objects alive, and the collector's passes over them were a fifth of the command's
    time. Reference counting still frees what is dropped; the collector runs again
    afterwards. Not for the worker, which lives on."""
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def release_files(root: Path, *, strict: bool = False) -> list[Path]:
    """Release files under ``root/releases`` in name order (hidden files and folders
    skipped; a name that is a dangling link is kept: reading it reports the problem).

    A folder that cannot be listed gives [] or, when ``strict``, raises OSError: an
    unreadable folder is never the same as an empty one.
    """
    folder = root / "releases"
    try:
        entries = list(os.scandir(folder))
    except OSError:
        if strict:
            raise
        return []
    # sorted by name before Paths are made: comparing 1,000 Paths cost more than listing
    wanted = (
        e
        for e in entries
        if os.path.splitext(e.name)[1].lower() in RELEASE_SUFFIXES
        and not e.name.startswith(".")
        and not _is_dir(e)
    )
    return [Path(e.path) for e in sorted(wanted, key=lambda e: e.name)]


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def _unreadable_folder(folder: Path, err: OSError) -> ConfigProblem:
    if err.errno == errno.ENOENT and not folder.is_symlink():
        why = "releases folder not found"
    elif err.errno == errno.ENOENT:
        why = "releases is a link to nothing"
    elif err.errno == errno.ENOTDIR:
        why = "releases is a file, not a folder"
    elif err.errno == errno.ELOOP:
        why = "releases is a link that loops"
    else:
        why = f"releases folder cannot be read: {err.strerror}"
    return ConfigProblem(
        display_path(folder),
        1,
        1,
        "",
        f"{why}; every stored release is kept as it is until it can be read",
        "create the folder (git keeps an empty one with a .gitkeep file in it) or fix it",
    )


def load_release_file(
    path: Path, *, root: Path, timezone: str
) -> tuple[LoadedRelease | None, list[ConfigProblem]]:
    """One release file on its own (no cross-file checks): the release, or None and why."""
    loaded, problems, _ = _read_release(path, root=root, timezone=timezone)
    return loaded, problems


def content_hash(release: Release) -> str:
    """sha256 of the release's normalised JSON: sorted keys, times in UTC, so reformatting
    a file or writing a time with another offset does not change it."""
    data = release.model_dump(mode="python")
    blob = json.dumps(data, sort_keys=True, ensure_ascii=False, default=_json_default)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    raise TypeError(f"cannot hash a {type(value).__name__}")  # pragma: no cover


def _check_zone(timezone: str, cfg: LoadedConfig) -> bool:
    try:
        check_timezone(timezone)
    except ValueError as e:
        message, _, hint = str(e).partition("; ")
        cfg.problems.append(ConfigProblem("DISSEM_TIMEZONE", 0, 0, "", message, hint))
        return False
    return True


def _read_yaml(source: SourceFile, problems: list[ConfigProblem]) -> dict[str, Any] | None:
    """The file's top-level mapping (``x-`` keys dropped), or None with a problem added."""
    try:
        source.doc = parse_yaml(read_limited(source.path))
    except YamlProblem as e:
        problems.append(source.yaml_problem(e))
        return None
    except OSError as e:
        problems.append(source.problem((), f"cannot read the file: {e.strerror}"))
        return None
    return _top_mapping(source, problems)


def _top_mapping(source: SourceFile, problems: list[ConfigProblem]) -> dict[str, Any] | None:
    assert source.doc is not None
    data = source.doc.data
    if data is None:
        data = {}
    if not isinstance(data, dict):
        problems.append(
            source.problem((), "the file must be a mapping of keys", "write 'key: value' lines")
        )
        return None
    return {k: v for k, v in data.items() if not (isinstance(k, str) and k.startswith("x-"))}


def _load_channels(root: Path, cfg: LoadedConfig, sources: ConfigSources) -> None:
    """``channels.yaml`` and every YAML file under ``channels/``, in name order; either may
    be missing, not both."""
    path, folder = root / "channels.yaml", root / CHANNELS_FOLDER
    paths = [path] if path.is_file() or path.is_symlink() else []
    if folder.exists() or folder.is_symlink():
        try:
            paths += channel_files(root, strict=True)
        except OSError as e:
            cfg.problems.append(_unreadable_channels_folder(folder, e))
            cfg.channels_incomplete = True
    elif not paths:
        cfg.problems.append(
            SourceFile(path).problem(
                (),
                "channels.yaml not found",
                f"every config folder needs a channels.yaml or a {CHANNELS_FOLDER}/ folder "
                "of YAML files",
            )
        )
        return
    for one in paths:
        _load_channel_file(one, cfg, sources)


def channel_files(root: Path, *, strict: bool = False) -> list[Path]:
    """YAML files under ``root/channels`` and its subfolders, in path order (hidden files
    and folders skipped). A folder that cannot be listed gives [] or, when ``strict``,
    raises OSError: an unreadable folder is never the same as an empty one."""
    found: list[Path] = []
    errors: list[OSError] = []
    for here, dirs, files in os.walk(root / CHANNELS_FOLDER, onerror=errors.append):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += (
            Path(here) / f
            for f in files
            if Path(f).suffix.lower() in CHANNEL_SUFFIXES and not f.startswith(".")
        )
    if errors and strict:
        raise errors[0]
    return sorted(found, key=lambda p: p.parts)


def _unreadable_channels_folder(folder: Path, err: OSError) -> ConfigProblem:
    if err.errno == errno.ENOTDIR:
        why = f"{CHANNELS_FOLDER} is a file, not a folder"
    elif err.errno == errno.ENOENT:
        why = f"{CHANNELS_FOLDER} is a link to nothing"
    elif err.errno == errno.ELOOP:
        why = f"{CHANNELS_FOLDER} is a link that loops"
    else:
        why = f"{display_path(Path(err.filename or folder))} cannot be read: {err.strerror}"
    return ConfigProblem(
        display_path(folder),
        1,
        1,
        "",
        f"{why}; channels it holds keep their posts as they are until it can be read",
        "make it a readable folder of YAML files (or remove it and use channels.yaml)",
    )


@dataclass
class _Parsed:
    """What one channel file gave, before the cross-file checks (kept between loads)."""

    source: SourceFile
    problems: list[ConfigProblem] = field(default_factory=list)
    channels: list[tuple[int, Channel]] = field(default_factory=list)
    groups: dict[str, list[str]] = field(default_factory=dict)
    broken: set[str] = field(default_factory=set)
    unread: set[str] | None = None  # names guessed in a file that could not be read


# Files read by earlier loads in this process, by path, content digest and working folder
# (problems name paths relative to it): the worker reloads the config every sync, and
# parsing 10,000 unchanged channels took 2 s of a sync that changed nothing.
_CACHE: dict[tuple[str, str, str], Any] = {}
_CACHE_FILES = 5_000


def _cached(kind: str, path: Path, compute: Callable[[], _T], *extra: str) -> _T:
    """``compute()``, or what it gave for the same bytes of ``path`` before."""
    try:
        if path.stat().st_size > MAX_BYTES or not stat.S_ISREG(path.stat().st_mode):
            return compute()
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return compute()
    key = (f"{kind}:{path}", digest, "\0".join((os.getcwd(), *extra)))
    if key not in _CACHE:
        if len(_CACHE) >= _CACHE_FILES:
            _CACHE.clear()
        _CACHE[key] = compute()
    result: _T = _CACHE[key]
    return result


def _load_channel_file(path: Path, cfg: LoadedConfig, sources: ConfigSources) -> None:
    parsed: _Parsed = _cached("channels", path, lambda: _parse_channel_file(path))
    sources.channel_files.append(parsed.source)
    cfg.problems.extend(parsed.problems)
    sources.channels += [(parsed.source, i, c) for i, c in parsed.channels]
    _add_groups(parsed.source, parsed.groups, sources)
    sources.broken_channel_names |= parsed.broken
    if parsed.unread is not None:
        cfg.channels_incomplete = True
        cfg.broken_channel_names |= parsed.unread


def _parse_channel_file(path: Path) -> _Parsed:
    source = SourceFile(path)
    out = _Parsed(source)
    try:
        _regular_file(path)
        source.doc = parse_yaml(read_limited(path))
    except (YamlProblem, OSError) as e:
        if isinstance(e, YamlProblem):
            problem = source.yaml_problem(e)
            if "limited to" in e.message:
                problem = replace(problem, hint=_SPLIT_HINT)
        else:
            problem = source.problem((), f"cannot read the file: {e.strerror}")
        out.problems.append(problem)
        out.unread = _names_of_unread(path)
        return out
    data = _top_mapping(source, out.problems)
    if data is None:
        out.unread = _names_of_unread(path)
        return out
    try:
        parsed = ChannelsFile.model_validate(data)
    except ValidationError as e:
        out.problems.extend(source.validation_problems(e, ChannelsFile))
        items = data.get("channels")
        out.channels = _salvage(items if isinstance(items, list) else [], Channel, out.broken)
        try:
            out.groups = ChannelsFile(channels=[], groups=data.get("groups") or {}).groups
        except ValidationError:
            out.groups = {}
        return out
    out.channels = list(enumerate(parsed.channels))
    out.groups = dict(parsed.groups)
    return out


_SPLIT_HINT = f"split it into several files in a {CHANNELS_FOLDER}/ folder (e.g. one per office)"
# `name: x` anywhere in a file that could not be read as YAML: the channels it may hold.
_NAME_LINE = re.compile(r"(?<![\w-])name:[ \t]*[\"']?([a-z0-9][a-z0-9._-]*)", re.MULTILINE)


def _names_of_unread(path: Path) -> set[str]:
    """A channel file that could not be read as a whole: its channels are unknown, so sync
    must not read their absence as removal. The names it seems to hold are marked broken
    (so their posts wait, and groups naming them raise no second problem), and
    ``channels_incomplete`` keeps every stored channel in case the guess missed one."""
    try:
        text = path.read_bytes()[: 16 * MAX_BYTES].decode("utf-8", "replace")
    except OSError:
        return set()
    return {m.group(1) for m in _NAME_LINE.finditer(text)}


def _add_groups(source: SourceFile, groups: dict[str, list[str]], sources: ConfigSources) -> None:
    for name, members in groups.items():
        sources.groups.append((source, name, members))


def _load_feeds(path: Path, cfg: LoadedConfig, sources: ConfigSources) -> None:
    if not path.is_file():
        return  # feeds are optional
    source = SourceFile(path)
    sources.feeds_file = source
    data = _read_yaml(source, cfg.problems)
    if data is None:
        return
    try:
        sources.feeds = list(enumerate(FeedsFile.model_validate(data).feeds))
    except ValidationError as e:
        cfg.problems.extend(source.validation_problems(e, FeedsFile))
        items = data.get("feeds")
        sources.feeds = _salvage(items if isinstance(items, list) else [], Feed, set())


def _salvage(items: list[Any], model: type[_M], broken: set[str]) -> list[tuple[int, _M]]:
    """The items of a list that are valid on their own, with their indexes; the names of the
    others go into ``broken`` (their problems were already reported)."""
    good: list[tuple[int, _M]] = []
    for i, item in enumerate(items):
        try:
            good.append((i, model.model_validate(item)))
        except ValidationError:
            if isinstance(item, dict) and isinstance(item.get("name"), str):
                broken.add(item["name"])
    return good


def _read_release(
    path: Path, *, root: Path, timezone: str, check_image: bool = True
) -> tuple[LoadedRelease | None, list[ConfigProblem], SourceFile]:
    source = SourceFile(path)
    problems: list[ConfigProblem] = []
    try:
        _regular_file(path)
        text = read_limited(path)
        body: str | None = None
        if path.suffix.lower() == ".md":
            text, body = split_front_matter(text)
        source.doc = parse_yaml(text)
    except YamlProblem as e:
        return None, [source.yaml_problem(e)], source
    except OSError as e:
        return None, [source.problem((), f"cannot read the file: {e.strerror}")], source
    data = _top_mapping(source, problems)
    if data is None:
        return None, problems, source
    data.setdefault("id", path.stem)
    if body is not None:
        if "body" in data:
            problems.append(
                source.problem(
                    ("body",),
                    "body is given twice: in the front matter and after it",
                    "remove 'body:' from the front matter; the Markdown below it is the body",
                    key=True,
                )
            )
            return None, problems, source
        data["body"] = body
    try:
        release = Release.model_validate(data, context={"timezone": timezone})
    except ValidationError as e:
        problems.extend(source.validation_problems(e, Release))
        return None, problems, source
    if check_image:
        problems.extend(_check_image(release, root, source))
    if problems:
        return None, problems, source
    return LoadedRelease(release=release, path=path, content_hash=content_hash(release)), [], source


def _regular_file(path: Path) -> None:
    """Raises OSError unless ``path`` is (or links to) a regular file: a FIFO or a device
    would block or never end."""
    mode = path.stat().st_mode
    if not stat.S_ISREG(mode):
        raise OSError(errno.EINVAL, "not a regular file")


def _check_image(release: Release, root: Path, source: SourceFile) -> list[ConfigProblem]:
    """A local image path must be a readable file under the config folder."""
    if release.image is None or release.image.src.lower().startswith(("https://", "http://")):
        return []
    src = release.image.src
    hint = "give a public https:// URL or a path relative to the config folder"
    try:
        target = (root / src).resolve()
        if not target.is_relative_to(root.resolve()):
            return [
                source.problem(
                    ("image", "src"), f"image {shown(src)} lies outside the config folder", hint
                )
            ]
        _regular_file(target)
        with target.open("rb") as f:
            f.read(1)
    except FileNotFoundError:
        return [source.problem(("image", "src"), f"image file {shown(src)} not found", hint)]
    except (OSError, ValueError, RuntimeError) as e:  # RuntimeError: a link loop (resolve)
        why = e.strerror if isinstance(e, OSError) and e.strerror else "not a readable file"
        return [
            source.problem(("image", "src"), f"image file {shown(src)} cannot be read: {why}", hint)
        ]
    return []


def _release_id_of(source: SourceFile, path: Path) -> str:
    """The id a broken file claims (its ``id:`` if readable, else its file name)."""
    data = source.doc.data if source.doc else None
    if isinstance(data, dict) and isinstance(data.get("id"), str):
        return str(data["id"])
    return path.stem
