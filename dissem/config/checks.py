"""Checks that need more than one file: names, groups, targets, overrides, duplicates.

:func:`run_checks` fills ``LoadedConfig.channels``, ``groups`` (expanded to channel names,
nested groups allowed), ``releases`` and ``feeds`` from what the loader parsed, and adds a
located problem for each of:

- duplicate channel names, within a file or across ``channels.yaml`` and ``channels/``
  (both copies left out: which one is meant is unclear; the message names both places),
- group names that are invalid, clash with a channel or are defined in two files (the
  first holds), members that are unknown, cycles (one problem per set of groups that
  contain each other; expanding is linear, without recursion); members may be channels or
  groups of any channel file, and each problem is located in the file of the group it is
  about,
- release targets that are neither a channel nor a group (with a suggestion),
- override keys that are neither a platform nor a channel,
- templates (a channel's ``template``, an override's ``text``) that do not parse, use an
  unknown variable, or go over their budget when rendered once with sample values (the
  channel or release is then left out),
- the same release id in two files (both left out),
- feeds with unknown targets, duplicate names, a non-http URL, or approved without
  ``approved_by``,
- a local image that is not a JPEG (by its first bytes, not its name) on a release that an
  Instagram channel would post: Instagram takes JPEG only.

A release with a problem is left out of ``releases`` and its id put in
``broken_release_ids``; except for the Instagram image, which is reported but keeps the
release (its other channels can post it; the Instagram adapter refuses the image with the
same reason). Mistakes inside a channel that was itself invalid are not reported a
second time: targets naming a broken channel are accepted silently.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from dissem.compose.templates import check_template
from dissem.config.locate import SourceFile, did_you_mean
from dissem.config.models import (
    NAME_RE,
    Channel,
    Feed,
    LoadedConfig,
    LoadedRelease,
    check_url,
)
from dissem.config.overrides import merged_override
from dissem.config.quote import shown
from dissem.config.yamlsafe import DataPath
from dissem.errors import ConfigError, ConfigProblem
from dissem.imagetype import SNIFF_BYTES, sniff_image_type
from dissem.traits import BUILTIN, all_platforms, traits_for

__all__ = ["ConfigSources", "expand_groups", "run_checks"]

# Names people use for platforms that dissem spells otherwise (the declarations' aliases).
_ALIASES = {alias: t.name for t in BUILTIN for alias in t.aliases}


@dataclass
class ConfigSources:
    """What the loader parsed, with the files it came from (to locate problems)."""

    channel_files: list[SourceFile] = field(default_factory=list)  # in load order
    # (file, index in its channels list, channel), in load order
    channels: list[tuple[SourceFile, int, Channel]] = field(default_factory=list)
    broken_channel_names: set[str] = field(default_factory=set)
    groups: list[tuple[SourceFile, str, list[str]]] = field(default_factory=list)
    feeds_file: SourceFile | None = None
    feeds: list[tuple[int, Feed]] = field(default_factory=list)
    releases: list[tuple[LoadedRelease, SourceFile]] = field(default_factory=list)
    broken_releases: list[SourceFile] = field(default_factory=list)  # failed on their own


def run_checks(cfg: LoadedConfig, sources: ConfigSources) -> None:
    """Fills ``cfg`` from ``sources`` and appends every cross-file problem to it."""
    cfg.broken_channel_names |= sources.broken_channel_names
    _check_channels(cfg, sources)
    _check_groups(cfg, _unique_groups(cfg, sources.groups))
    _check_releases(cfg, sources.releases, sources.broken_releases)
    if sources.feeds_file is not None:
        _check_feeds(cfg, sources.feeds, sources.feeds_file)


def expand_groups(groups: dict[str, list[str]]) -> tuple[dict[str, list[str]], list[list[str]]]:
    """Each group's channel names (members that are groups expanded, order kept, no
    duplicates) and the cycles found, each as the list of group names around it.

    Names that are neither groups nor anything else are kept as written; the caller decides
    whether they are channels. A cycle is cut where it closes.
    """
    expanded: dict[str, list[str]] = {}
    back_edges: list[tuple[str, str]] = []  # (group, member on the path to it)
    parent: dict[str, str] = {}
    on_path: set[str] = set()
    # Depth first, without recursion (a chain of 1,500 groups is legal YAML); each group is
    # expanded once, so the work is the file's size plus the expansions' size.
    for root in groups:
        if root in expanded:
            continue
        on_path.add(root)
        path: list[tuple[str, Iterator[str], dict[str, None]]] = [(root, iter(groups[root]), {})]
        while path:
            name, members, out = path[-1]
            for member in members:
                if member == name or member in on_path:
                    back_edges.append((name, member))
                elif member not in groups:
                    out.setdefault(member)
                elif member in expanded:
                    out.update(dict.fromkeys(expanded[member]))
                else:
                    parent[member] = name
                    on_path.add(member)
                    path.append((member, iter(groups[member]), {}))
                    break
            else:
                path.pop()
                on_path.discard(name)
                expanded[name] = list(out)
                if path:
                    path[-1][2].update(out)
    return expanded, _one_cycle_each(groups, back_edges, parent)


def _one_cycle_each(
    groups: dict[str, list[str]], back_edges: list[tuple[str, str]], parent: dict[str, str]
) -> list[list[str]]:
    """One cycle per set of groups that contain each other (however many ways they do),
    as the path of group names around it, in the order they were found."""
    component = _components(groups)
    cycles: list[list[str]] = []
    seen: set[int] = set()
    for name, member in back_edges:
        if component[member] in seen:
            continue
        seen.add(component[member])
        around = [name]
        while around[-1] != member:
            around.append(parent[around[-1]])
        cycles.append([*reversed(around), member])
    return cycles


def _components(groups: dict[str, list[str]]) -> dict[str, int]:
    """The strongly connected component of each group (Tarjan's algorithm, iterative):
    groups in one component all contain each other."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    component: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    count = 0
    for root in groups:
        if root in index:
            continue
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        work: list[tuple[str, Iterator[str]]] = [(root, iter(groups[root]))]
        while work:
            name, members = work[-1]
            for member in members:
                if member not in groups:
                    continue
                if member not in index:
                    index[member] = low[member] = len(index)
                    stack.append(member)
                    on_stack.add(member)
                    work.append((member, iter(groups[member])))
                    break
                if member in on_stack:
                    low[name] = min(low[name], index[member])
            else:
                work.pop()
                if work:
                    above = work[-1][0]
                    low[above] = min(low[above], low[name])
                if low[name] == index[name]:
                    while True:
                        done = stack.pop()
                        on_stack.discard(done)
                        component[done] = count
                        if done == name:
                            break
                    count += 1
    return component


def _where(first: SourceFile, first_loc: DataPath, src: SourceFile) -> str:
    """Where the first copy of a name is: ``line 4`` in the same file, else ``file:4``."""
    line = first.line_of(first_loc)
    return f"on line {line}" if first is src else f"in {first.display}:{line}"


def _check_channels(cfg: LoadedConfig, sources: ConfigSources) -> None:
    first: dict[str, tuple[SourceFile, int]] = {}
    dupes: set[str] = set()
    for src, index, channel in sources.channels:
        if channel.name in first:
            at, at_index = first[channel.name]
            where = _where(at, ("channels", at_index), src)
            cfg.problems.append(
                src.problem(
                    ("channels", index, "name"),
                    f"channel name {channel.name!r} is used twice (first {where})",
                    "give each channel a unique name",
                )
            )
            dupes.add(channel.name)
        else:
            first[channel.name] = (src, index)
        if channel.template is not None:
            bad = _template_problems(channel.template, src, ("channels", index, "template"))
            cfg.problems += bad
            if bad:
                cfg.broken_channel_names.add(channel.name)
    for _, _, channel in sources.channels:
        if channel.name not in dupes and channel.name not in cfg.broken_channel_names:
            cfg.channels[channel.name] = channel
    cfg.broken_channel_names |= dupes


def _unique_groups(
    cfg: LoadedConfig, groups: list[tuple[SourceFile, str, list[str]]]
) -> dict[str, tuple[SourceFile, list[str]]]:
    """Groups by name; a name defined again (in another file: within one file YAML refuses
    it) is a problem at the second definition, and the first one holds."""
    out: dict[str, tuple[SourceFile, list[str]]] = {}
    for src, name, members in groups:
        if name in out:
            where = _where(out[name][0], ("groups", name), src)
            cfg.problems.append(
                src.problem(
                    ("groups", name),
                    f"group {shown(name)} is defined twice (first {where})",
                    "give each group a unique name, or list its members in one place",
                    key=True,
                )
            )
            continue
        out[name] = (src, members)
    return out


def _check_groups(cfg: LoadedConfig, located: dict[str, tuple[SourceFile, list[str]]]) -> None:
    known = set(cfg.channels) | cfg.broken_channel_names
    groups = {name: members for name, (_, members) in located.items()}
    for name, (src, members) in located.items():
        if not NAME_RE.match(name):
            cfg.problems.append(
                src.problem(
                    ("groups", name),
                    f"{shown(name)} is not a valid group name",
                    "use lower-case letters, digits, '.', '_' or '-'",
                    key=True,
                )
            )
        if name in known:
            cfg.problems.append(
                src.problem(
                    ("groups", name),
                    f"group {shown(name)} has the name of a channel",
                    "rename the group (e.g. add '-all') so targets are unambiguous",
                    key=True,
                )
            )
        for i, member in enumerate(members):
            if member not in known and member not in groups:
                cfg.problems.append(
                    src.problem(
                        ("groups", name, i),
                        f"group {shown(name, 40)} names {shown(member, 40)}, "
                        "which is neither a channel nor a group",
                        did_you_mean(member, [*cfg.channels, *groups]),
                    )
                )
    expanded, cycles = expand_groups(groups)
    for cycle in cycles:
        cfg.problems.append(
            located[cycle[0]][0].problem(
                ("groups", cycle[0]),
                "groups contain each other: " + " -> ".join(cycle),
                "a group may include other groups, but not itself",
                key=True,
            )
        )
    cfg.groups = {g: [n for n in names if n in cfg.channels] for g, names in expanded.items()}


def _check_releases(
    cfg: LoadedConfig,
    releases: list[tuple[LoadedRelease, SourceFile]],
    broken: list[SourceFile],
) -> None:
    by_id: dict[str, list[tuple[LoadedRelease, SourceFile]]] = defaultdict(list)
    for loaded, src in releases:
        by_id[loaded.release.id].append((loaded, src))
    targetable = [*cfg.channels, *cfg.groups]
    for rid, copies in by_id.items():
        if len(copies) > 1:
            names = ", ".join(src.display for _, src in copies)
            for _, src in copies:
                cfg.problems.append(
                    src.problem(
                        ("id",),
                        f"release id {rid!r} is used by more than one file: {names}",
                        "give each release its own id (by default the file name)",
                        key=True,
                    )
                )
            cfg.broken_release_ids.add(rid)
            continue
        loaded, src = copies[0]
        problems = _release_problems(cfg, loaded, src, targetable)
        if problems:
            cfg.problems.extend(problems)
            cfg.broken_release_ids.add(rid)
        else:
            cfg.releases.append(loaded)
            cfg.problems.extend(_image_format_problems(cfg, loaded, src))
    for src in broken:
        _check_broken_release(cfg, src, targetable)


def _release_problems(
    cfg: LoadedConfig, loaded: LoadedRelease, src: SourceFile, targetable: list[str]
) -> list[ConfigProblem]:
    release = loaded.release
    problems = _unknown_targets(cfg, release.targets, src, targetable)
    problems += _unknown_overrides(cfg, list(release.overrides), src)
    for key, override in release.overrides.items():
        if override.text is not None:
            problems += _template_problems(override.text, src, ("overrides", key, "text"))
    return problems


def _image_format_problems(
    cfg: LoadedConfig, loaded: LoadedRelease, src: SourceFile
) -> list[ConfigProblem]:
    """A local image in a format that a platform needing an image does not take (declared
    ``media_required`` and ``image_formats``), on a release an enabled channel of that
    platform posts (one not skipped by an override): that post would fail. Instagram
    documents JPEG as its only image format:
    https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user/media
    (an image URL is read by the adapter before it posts; validate does not go online).
    Platforms that merely show an image send the text alone when they cannot take it."""
    release = loaded.release
    if release.image is None or release.image.src.startswith(("https://", "http://")):
        return []
    path = cfg.root / release.image.src
    if not path.is_file():  # a missing file is the loader's problem
        return []
    by_platform: dict[str, list[str]] = {}
    for name in cfg.targets_of(release):
        channel = cfg.channels[name]
        if (
            traits_for(channel.platform).media_required
            and channel.enabled
            and not merged_override(release, channel).skip
        ):
            by_platform.setdefault(channel.platform, []).append(name)
    if not by_platform:
        return []
    with path.open("rb") as f:
        mime = sniff_image_type(f.read(SNIFF_BYTES))
    problems: list[ConfigProblem] = []
    for platform, channels in by_platform.items():
        traits = traits_for(platform)
        if mime in traits.image_formats:
            continue
        formats = _formats_text(traits.image_formats)
        kind = mime.removeprefix("image/").upper() if mime else "not a JPEG, PNG, GIF or WebP image"
        problems.append(
            src.problem(
                ("image", "src"),
                f"image {release.image.src!r} is {kind}, but {traits.display_name} takes "
                f"{formats} only (channel{'s' if len(channels) > 1 else ''} "
                f"{', '.join(map(repr, channels))})",
                f"give {formats} at a public https:// URL (the platform downloads it itself), "
                f"or skip {traits.display_name} for this release "
                f"(overrides: {{{platform}: {{skip: true}}}})",
            )
        )
    return problems


def _formats_text(mimes: tuple[str, ...]) -> str:
    """``("image/jpeg", "image/png")`` -> ``"JPEG or PNG"``."""
    names = [m.removeprefix("image/").upper() for m in mimes]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def _template_problems(source: str, src: SourceFile, loc: DataPath) -> list[ConfigProblem]:
    """A template that does not parse or names an unknown variable, located at its value."""
    try:
        check_template(source, src.display)
    except ConfigError as e:
        return [
            src.problem(
                loc,
                p.message + (f" (line {p.line} of the template)" if p.line > 1 else ""),
                p.hint,
            )
            for p in e.problems
        ]
    return []


def _check_broken_release(cfg: LoadedConfig, src: SourceFile, targetable: list[str]) -> None:
    """Targets and overrides of a release that failed on its own, as far as they can be
    read, so that one run reports all of its mistakes."""
    data = src.doc.data if src.doc else None
    if not isinstance(data, dict):
        return
    targets = data.get("targets")
    if isinstance(targets, list):
        cfg.problems += _unknown_targets(cfg, targets, src, targetable)
    overrides = data.get("overrides")
    if isinstance(overrides, dict):
        cfg.problems += _unknown_overrides(cfg, list(overrides), src)


def _override_hint(key: str, allowed: list[str]) -> str:
    """A did-you-mean that also knows the platforms' other names ('twiter' -> 'x')."""
    alias = _ALIASES.get(key.lower())
    if alias is None:
        close = did_you_mean(key.lower(), _ALIASES)
        alias = _ALIASES[close.split("'")[1]] if close else None
    return f"did you mean {alias!r}?" if alias else did_you_mean(key, allowed)


def _unknown_overrides(
    cfg: LoadedConfig, keys: list[object], src: SourceFile
) -> list[ConfigProblem]:
    allowed = [*all_platforms(), *cfg.channels]
    problems: list[ConfigProblem] = []
    for key in keys:
        if not isinstance(key, str) or key in allowed or key in cfg.broken_channel_names:
            continue
        problems.append(
            src.problem(
                ("overrides", key),
                f"override {shown(key)} is neither a platform nor a channel",
                _override_hint(key, allowed)
                or f"use a platform ({', '.join(all_platforms())}) or a channel name",
                key=True,
            )
        )
    return problems


def _unknown_targets(
    cfg: LoadedConfig,
    targets: list[Any],
    src: SourceFile,
    targetable: list[str],
    base: DataPath = (),
) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []
    for i, target in enumerate(targets):
        if not isinstance(target, str):
            continue  # a type error, reported by the model
        if target in cfg.channels or target in cfg.groups or target in cfg.broken_channel_names:
            continue
        problems.append(
            src.problem(
                (*base, "targets", i),
                f"target {shown(target)} is neither a channel nor a group",
                did_you_mean(target, targetable)
                or "see channels.yaml and the channels/ folder for the names",
            )
        )
    return problems


def _check_feeds(cfg: LoadedConfig, feeds: list[tuple[int, Feed]], src: SourceFile) -> None:
    seen: set[str] = set()
    targetable = [*cfg.channels, *cfg.groups]
    for index, feed in feeds:
        problems: list[ConfigProblem] = []
        if feed.name in seen:
            problems.append(
                src.problem(
                    ("feeds", index, "name"),
                    f"feed name {shown(feed.name)} is used twice",
                    "give each feed a unique name",
                )
            )
        seen.add(feed.name)
        try:
            check_url(feed.url, "URL")
        except ValueError as e:
            problems.append(
                src.problem(
                    ("feeds", index, "url"),
                    str(e).partition("; ")[0],
                    "write the full address of the RSS or Atom feed",
                )
            )
        if feed.status == "approved" and not feed.approved_by:
            problems.append(
                src.problem(
                    ("feeds", index, "status"),
                    "status is approved but approved_by is empty",
                    "name who approved posting this feed's items without review",
                )
            )
        problems += _unknown_targets(cfg, feed.targets, src, targetable, ("feeds", index))
        for r, rule in enumerate(feed.rules):
            problems += _unknown_targets(
                cfg, rule.targets, src, targetable, ("feeds", index, "rules", r)
            )
        cfg.problems.extend(problems)
        if not problems:
            cfg.feeds.append(feed)
