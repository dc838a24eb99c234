"""``dissem preview``: what each target channel would send for one release file.

Shows every part's exact text, its measured length against the limit, the escaping,
facets and platform fields applied, and why a channel sends nothing. Reads files only:
no database, no network. Control characters in the text are shown as ``\\xNN``, never
sent to the terminal. Exit codes: 0 ok, 2 when the release file (or a template) is
broken, with ``file:line`` problems on stderr, or when there is no config folder.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from dissem.cli.options import config_option, require_config_dir
from dissem.clock import utcnow
from dissem.compose.types import Composition, Part
from dissem.config.quote import printable
from dissem.errors import ConfigError, ConfigProblem
from dissem.traits import Markup, find_traits

#: JSON leaves DEL and the C1 controls (0x9b is a one-byte "escape [") unescaped.
_JSON_CONTROLS = {c: f"\\u{c:04x}" for c in range(0x7F, 0xA0)}


def _echo(text: str, *, err: bool = False) -> None:
    """Prints for a person: control characters from a release (a title holding
    ``\\e]0;...\\a`` would retitle the terminal) are shown as ``\\xNN``."""
    click.echo(printable(text), err=err)


def _fail(problems: list[ConfigProblem]) -> None:
    for problem in problems:
        _echo(str(problem), err=True)
    raise SystemExit(2)


def _facet_line(part: Part, facet: dict[str, Any]) -> str:
    index = facet["index"]
    raw = part.text.encode("utf-8")[index["byteStart"] : index["byteEnd"]]
    feature = facet["features"][0]
    kind = feature["$type"].rsplit("#", 1)[-1]
    target = feature.get("uri") or "#" + str(feature.get("tag", ""))
    return (
        f"{kind} bytes {index['byteStart']}-{index['byteEnd']} "
        f"{raw.decode('utf-8', 'replace')!r} -> {target}"
    )


def _show_part(part: Part, platform: str) -> None:
    status = "ok" if part.length <= part.limit else "TOO LONG"
    _echo(f"--- part {part.index}/{part.total}: {part.length}/{part.limit} ({status})")
    _echo(part.text)
    _echo("---")
    traits = find_traits(platform)
    markup = traits.markup if traits is not None else Markup.PLAIN
    if markup is not Markup.PLAIN:
        _echo(f"  escaping: {markup.description}")
    for facet in part.facets:
        _echo(f"  facet: {_facet_line(part, facet)}")
    if part.embed:
        _echo(f"  embed: {json.dumps(part.embed, ensure_ascii=False)}")
    for media in part.media:
        _echo(f"  media: {media.src}" + (f" (alt: {media.alt})" if media.alt else ""))
    for key, value in sorted(part.options.items()):
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        _echo(f"  {key}: {shown}")


def _show(channel: str, platform: str, comp: Composition, note: str) -> None:
    _echo(f"=== {channel} ({platform}){note}")
    if comp.skipped:
        _echo(f"  {comp.skipped}")
    for part in comp:
        _show_part(part, platform)
    _echo("")


@click.command("preview")
@click.argument("release_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--channel", "channel_name", help="Only this channel (any configured one).")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def preview(
    release_file: Path, channel_name: str | None, config_dir: Path | None, as_json: bool
) -> None:
    """Show the exact posts RELEASE_FILE becomes on each target channel."""
    from dissem.compose.composer import compose
    from dissem.config.loader import load_config, load_release_file
    from dissem.settings import Settings

    settings = Settings()
    root = config_dir or settings.config_dir
    require_config_dir("preview", root)
    loaded, problems = load_release_file(release_file, root=root, timezone=settings.timezone)
    if problems or loaded is None:
        _fail(problems)
    assert loaded is not None
    release = loaded.release
    cfg = load_config(root, timezone=settings.timezone)
    for problem in cfg.problems:
        if Path(problem.path).name == "channels.yaml" or _in_channels_folder(
            Path(problem.path), root
        ):
            _echo(f"warning: {problem}", err=True)
    if channel_name is not None:
        if channel_name not in cfg.channels:
            _echo(
                f"unknown channel {channel_name!r} in {root}/channels.yaml or channels/",
                err=True,
            )
            raise SystemExit(2)
        names = [channel_name]
    else:
        names = cfg.targets_of(release)
        known = set(cfg.channels) | set(cfg.groups)
        for target in release.targets:
            if target not in known:
                _echo(f"warning: target {target!r} is no channel or group", err=True)
    now = utcnow()
    results: list[dict[str, Any]] = []
    broken: list[ConfigProblem] = []
    for name in names:
        channel = cfg.channels[name]
        try:
            comp = compose(release, channel, now)
        except ConfigError as exc:
            broken.extend(exc.problems)
            comp = Composition([], skipped=f"error: {exc}")
        note = "" if channel.enabled else " [channel disabled]"
        if as_json:
            results.append(
                {
                    "channel": name,
                    "platform": channel.platform,
                    "enabled": channel.enabled,
                    "skipped": comp.skipped,
                    "parts": [part.to_json() for part in comp],
                }
            )
        else:
            _show(name, channel.platform, comp, note)
    if as_json:
        click.echo(json.dumps(results, ensure_ascii=False, indent=2).translate(_JSON_CONTROLS))
    elif not names:
        _echo("no target channel found for this release")
    if broken:
        _fail(broken)


def _in_channels_folder(path: Path, root: Path) -> bool:
    """Whether a problem's file lies in the config's ``channels/`` folder."""
    folder = Path(os.path.abspath(root / "channels"))
    return Path(os.path.abspath(path)).is_relative_to(folder)
