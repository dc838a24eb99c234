"""The documents in ``docs/`` name only settings and commands that exist.

Every ``DISSEM_*`` name in ``docs/*.md`` is a setting (a field of
:class:`dissem.settings.Settings`) or is read somewhere else in the code (a test or
benchmark variable, a credential variable of the example config); every ``dissem <command>``
written as code (in backticks or in a fenced block) is a command of the CLI, with its
subcommand and its ``--options``. Command names are read through click
(``cli.list_commands``), so a command loaded lazily counts as one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from dissem.cli import cli
from dissem.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted((ROOT / "docs").glob("*.md"))
#: names the documents may give although nothing reads them, each with why
NOT_BUILT = {
    "DISSEM_READ_DATABASE_URL": "docs/scaling.md describes it as not built yet",
}

_NAME = re.compile(r"\bDISSEM_[A-Z0-9_]*[A-Z0-9]\b")
_FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
_SPAN = re.compile(r"`([^`\n]+)`")
# where one shell command ends and the next begins
_SEGMENT = re.compile(r"&&|\|\||[;|]|\$\(")
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=\S*")


def settings_names() -> set[str]:
    return {"DISSEM_" + name.upper() for name in Settings.model_fields}


def read_elsewhere() -> str:
    """The text of the code and the example config, where other variables are read."""
    parts = []
    for folder in ("dissem", "tests", "benchmarks"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in (".py", ".yaml", ".yml", ".toml") and path.is_file():
                parts.append(path.read_text(encoding="utf-8", errors="replace"))
    return "\n".join(parts)


def code_of(text: str) -> Iterator[str]:
    """The code of a Markdown text: each line of a fenced block (its comments dropped) and
    each backtick span outside them."""
    for block in _FENCE.findall(text):
        for line in block.splitlines():
            yield line.split(" #", 1)[0].split("\t#", 1)[0]
    yield from _SPAN.findall(_FENCE.sub("", text))


def invocations(text: str) -> Iterator[list[str]]:
    """The words after ``dissem`` in each command the text shows: ``dissem`` (or a path
    ending in it, as in ``ExecStart=/srv/.venv/bin/dissem``) as the first word of a shell
    command, after any ``VAR=value`` and ``sudo -u USER``."""
    for code in code_of(text):
        for segment in _SEGMENT.split(code):
            words = segment.split()
            while words:
                if words[0] == "sudo":
                    words = words[1:]
                    while words and words[0].startswith("-"):
                        words = words[2:] if words[0] in ("-u", "-g") else words[1:]
                elif _ASSIGNMENT.fullmatch(words[0]) and not words[0].endswith("/dissem"):
                    words = words[1:]
                else:
                    break
            if words and words[0].split("=")[-1].rsplit("/", 1)[-1] == "dissem":
                yield words[1:]


def check_invocation(words: list[str]) -> str | None:
    """What is wrong with ``dissem <words>``, or None."""
    ctx = click.Context(cli)
    command: click.Command = cli
    path = "dissem"
    expect_command = True
    for word in words:
        if word.startswith("--"):
            option = word.split("=", 1)[0]
            known = {o for p in command.params for o in (*p.opts, *p.secondary_opts)}
            known |= {"--help", "--version"} if command is cli else {"--help"}
            if option not in known:
                return f"{path} has no option {option}"
            continue
        if not expect_command:
            continue
        if isinstance(command, click.Group) and re.fullmatch(r"[a-z][a-z-]*", word):
            found = command.get_command(ctx, word)
            if found is None:
                return f"{path} has no command {word!r}"
            command, path = found, f"{path} {word}"
            expect_command = isinstance(found, click.Group)
            continue
        expect_command = False  # an argument (NAME, a path, ...)
    return None


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_dissem_variable_in_the_docs_exists(doc: Path) -> None:
    names = set(_NAME.findall(doc.read_text(encoding="utf-8")))
    unknown = names - settings_names() - set(NOT_BUILT)
    elsewhere = read_elsewhere() if unknown else ""
    missing = sorted(n for n in unknown if not re.search(rf"\b{n}\b", elsewhere))
    assert not missing, f"{doc.name} names variables nothing reads: {missing}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_dissem_command_in_the_docs_exists(doc: Path) -> None:
    problems = sorted(
        {
            f"`dissem {' '.join(words)}`: {why}"
            for words in invocations(doc.read_text(encoding="utf-8"))
            if (why := check_invocation(words)) is not None
        }
    )
    assert not problems, f"{doc.name}: " + "; ".join(problems)


def test_the_operations_guide_is_there() -> None:
    assert (ROOT / "docs" / "operations.md") in DOCS


def test_the_checks_catch_a_wrong_name_command_and_option() -> None:
    """The checks themselves can fail: a made-up setting, command, subcommand and option."""
    text = (
        "Set `DISSEM_NO_SUCH_SETTING`, then run `dissem frobnicate`, `dissem db downgrade`,\n"
        "```sh\n/srv/dissem/.venv/bin/dissem queue --problem   # a typo\n```\n"
        "and `dissem validate --config DIR --strict` (which is fine).\n"
    )
    assert set(_NAME.findall(text)) - settings_names() == {"DISSEM_NO_SUCH_SETTING"}
    found = {" ".join(w): check_invocation(w) for w in invocations(text)}
    assert found["frobnicate"] == "dissem has no command 'frobnicate'"
    assert found["db downgrade"] == "dissem db has no command 'downgrade'"
    assert found["queue --problem"] == "dissem queue has no option --problem"
    assert found["validate --config DIR --strict"] is None
    assert "python3" not in " ".join(" ".join(w) for w in invocations("`sudo -u dissem python3`"))
