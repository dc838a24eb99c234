"""Warnings for a config folder that loads but will not do what its author expects:
``dissem validate`` prints them (``--strict`` makes them problems); nothing else fails on
them.

- a channel whose credential variables are not set in this environment cannot publish
  (with ``DISSEM_SANDBOX_URL`` set, sandbox placeholders stand in, so it is only said);
- an empty ``releases/`` folder: nothing to send yet;
- a translation with a title but no summary: its posts would pair the translated title
  with the summary in the release's own language (see ``dissem.compose.composer``).

Each warning is a :class:`~dissem.errors.ConfigProblem`, located where it can be. Files are
only read here, never written; variable values are never shown, only their names.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from dissem.config.loader import channel_files
from dissem.config.locate import display_path
from dissem.config.models import Channel, LoadedConfig
from dissem.errors import ConfigProblem
from dissem.traits import traits_for

__all__ = ["collapse_misnamed_channels", "config_warnings", "missing_credentials"]

#: an unknown-name problem of a group or a release target (dissem.config.checks), and the
#: suggestion its hint makes
_UNKNOWN = re.compile(r"'([^']+)',? (?:which )?is neither a channel nor a group")
_SUGGESTED = re.compile(r"did you mean '([^']+)'\?")


def missing_credentials(channel: Channel, environ: Mapping[str, str]) -> list[str]:
    """The variables (or ``credentials.<name>`` not mapped) the channel still needs: none
    when a complete credential set of its platform is set; else those missing from the
    first set the channel maps in full (the first set when it maps none in full)."""
    try:
        sets = traits_for(channel.platform).credentials
    except ValueError:  # an unknown platform: a problem the loader reports already
        return []
    chosen: tuple[str, ...] | None = None
    for names in sets:
        mapped = [channel.credentials.get(n) for n in names]
        if all(var is not None and environ.get(var, "").strip() for var in mapped):
            return []
        if chosen is None and all(var is not None for var in mapped):
            chosen = names
    names = chosen or sets[0]
    out = []
    for name in names:
        var = channel.credentials.get(name)
        if var is None:
            out.append(f"credentials.{name} (not mapped)")
        elif not environ.get(var, "").strip():
            out.append(var)
    return out


def config_warnings(
    cfg: LoadedConfig, *, environ: Mapping[str, str] | None = None, sandbox: bool = False
) -> list[ConfigProblem]:
    """Every warning for ``cfg`` (see the module doc)."""
    env = dict(os.environ) if environ is None else environ  # read once, not per channel
    out: list[ConfigProblem] = []
    files = _channel_files(cfg.root)
    for channel in cfg.channels.values():
        if not channel.enabled:
            continue
        missing = missing_credentials(channel, env)
        if not missing:
            continue
        where = _find(files, [v for v in missing if not v.endswith("(not mapped)")])
        where = where or _find(files, [f"name: {channel.name}"])
        path, line, column = where or (cfg.root / "channels.yaml", 1, 1)
        effect = (
            "sandbox placeholders stand in (DISSEM_SANDBOX_URL is set)"
            if sandbox
            else "the channel cannot publish until they are"
        )
        out.append(
            ConfigProblem(
                display_path(path),
                line,
                column,
                f"{channel.name}.credentials",
                f"not set in this environment: {', '.join(missing)}; {effect}",
                "set them where the worker runs (environment or .env; a running worker "
                "reads .env again on SIGHUP)",
            )
        )
    releases = cfg.root / "releases"
    if releases.is_dir() and not cfg.releases and not cfg.broken_release_ids:
        out.append(
            ConfigProblem(
                display_path(releases),
                1,
                1,
                "",
                "no release files yet: nothing will be sent",
                "add releases/<id>.yaml or releases/<id>.md (`dissem init --config NEW` "
                "writes examples)",
            )
        )
    for loaded in cfg.releases:
        release = loaded.release
        for lang, tr in sorted(release.translations.items()):
            if tr.title and not tr.summary and release.summary:
                line, column = _translation_mark(loaded.path, lang)
                out.append(
                    ConfigProblem(
                        display_path(loaded.path),
                        line,
                        column,
                        f"translations.{lang}",
                        f"only a title: '{lang}' posts would pair it with the "
                        f"'{release.language}' summary, mixing languages",
                        f"add a summary in that language (and a body, if the release has "
                        f"one) to translations.{lang}",
                    )
                )
    return out


def collapse_misnamed_channels(cfg: LoadedConfig) -> list[ConfigProblem]:
    """``cfg.problems`` with the knock-on problems of a misspelt channel name collapsed.

    When a channel is defined as ``main-mastodn`` while groups and releases name
    ``main-mastodon``, each of those names is reported unknown with the hint "did you mean
    'main-mastodn'?": the wrong fix. When every problem naming one unknown name suggests
    the same channel, and that channel is named by no group and no release, the typo is in
    the channel's own name: one problem at that name, suggesting the name the others use,
    replaces them all (saying how many places use it).
    """
    named: set[str] = set()
    for members in cfg.groups.values():
        named.update(members)
    for loaded in cfg.releases:
        named.update(cfg.targets_of(loaded.release))
    by_name: dict[str, list[ConfigProblem]] = {}
    suggestion: dict[str, set[str]] = {}
    for problem in cfg.problems:
        unknown = _UNKNOWN.search(problem.message)
        if unknown is None:
            continue
        by_name.setdefault(unknown.group(1), []).append(problem)
        hinted = _SUGGESTED.search(problem.hint)
        suggestion.setdefault(unknown.group(1), set()).add(hinted.group(1) if hinted else "")
    replaced: dict[int, ConfigProblem | None] = {}
    files = _channel_files(cfg.root)
    for wanted, problems in by_name.items():
        (defined,) = suggestion[wanted] if len(suggestion[wanted]) == 1 else ("",)
        if defined not in cfg.channels or defined in named:
            continue
        where = _find(files, [f"name: {defined}", f"name: '{defined}'", f'name: "{defined}"'])
        if where is None:
            continue
        path, line, column = where
        uses = sorted({p.path for p in problems})
        one = ConfigProblem(
            display_path(path),
            line,
            column + len("name: "),
            "name",
            f"channel '{defined}' is named nowhere, while '{wanted}', which no channel has, "
            f"is named {len(problems)} time{'s' if len(problems) != 1 else ''} (in "
            f"{', '.join(uses)})",
            f"did you mean '{wanted}'?",
        )
        for i, problem in enumerate(cfg.problems):
            if problem in problems:
                replaced[i] = one if problem is problems[0] else None
    out: list[ConfigProblem] = []
    for i, problem in enumerate(cfg.problems):
        if i not in replaced:
            out.append(problem)
        elif (new := replaced[i]) is not None:
            out.append(new)
    return out


class _Places:
    """The channel files' text, read once, with the first place of each environment
    variable name and each ``name: <value>``: a config of 10,000 channels asks for
    thousands of needles, and a scan of every file per needle took a minute."""

    def __init__(self, root: Path) -> None:
        paths = [root / "channels.yaml", *channel_files(root)]
        self.files: list[tuple[Path, str]] = []
        for path in paths:
            try:
                # one "\n" per line break, as the lines YAML and splitlines() count
                text = "\n".join(path.read_text(encoding="utf-8").splitlines())
                self.files.append((path, text))
            except (OSError, UnicodeDecodeError):
                continue
        self._words: dict[str, tuple[int, int, int]] | None = None

    def words(self) -> dict[str, tuple[int, int, int]]:
        """Each whole word written as a variable name (upper case letters, digits, '_')
        and each ``name: <value>`` -> (file index, line, column) of its first place."""
        if self._words is None:
            self._words = {}
            for f, (_, text) in enumerate(self.files):
                for pattern in (_VARIABLE, _NAME_VALUE):
                    line, line_start, at = 1, 0, 0
                    for m in pattern.finditer(text):
                        start = m.start()
                        newlines = text.count("\n", at, start)
                        if newlines:
                            line += newlines
                            line_start = text.rfind("\n", at, start) + 1
                        at = start
                        self._words.setdefault(m.group(), (f, line, start - line_start + 1))
        return self._words

    def scan(self, needles: list[str]) -> tuple[int, int, int] | None:
        for f, (_, text) in enumerate(self.files):
            for number, line in enumerate(text.split("\n"), 1):
                for needle in needles:
                    found = re.search(rf"(?<![\w-]){re.escape(needle)}(?![\w-])", line)
                    if found:
                        return f, number, found.start() + 1
        return None


_VARIABLE = re.compile(r"(?<![\w-])[A-Z_][A-Z0-9_]*(?![\w-])")
_NAME_VALUE = re.compile(r"(?<![\w-])name: ['\"]?[\w.-]+['\"]?(?![\w-])")


def _channel_files(root: Path) -> _Places:
    return _Places(root)


def _find(places: _Places, needles: list[str]) -> tuple[Path, int, int] | None:
    """The first place one of ``needles`` is written (a variable name, ``name: x``): looked
    up among the variable names and ``name:`` values, else (a needle of another shape)
    scanned for."""
    words = places.words()
    hits = [words[n] for n in needles if n in words]
    indexed = all(_VARIABLE.fullmatch(n) or _NAME_VALUE.fullmatch(n) for n in needles)
    if not hits and not indexed:
        found = places.scan(needles)
        hits = [found] if found else []
    if not hits:
        return None
    f, line, column = min(hits)
    return places.files[f][0], line, column


def _translation_mark(path: Path, lang: str) -> tuple[int, int]:
    """Line and column of ``<lang>:`` under ``translations:`` (1, 1 when not found)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return 1, 1
    inside = False
    for number, text in enumerate(lines, 1):
        if re.match(r"translations\s*:", text):
            inside = True
            continue
        if inside:
            found = re.match(rf"(\s+){re.escape(lang)}\s*:", text)
            if found:
                return number, len(found.group(1)) + 1
            if text and not text[0].isspace() and not text.startswith("#"):
                inside = False
    return 1, 1
