"""Safe YAML: plain data only, marks for every value, limits on size and alias expansion."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from dissem.config import yamlsafe
from dissem.config.yamlsafe import MAX_BYTES, Mark, parse_yaml, read_limited, split_front_matter
from dissem.errors import YamlProblem


def test_values_and_marks_are_recorded_by_data_path() -> None:
    doc = parse_yaml("title: Hello\ntargets:\n  - hq\n  - embassies\nimage: {src: a.jpg}\n")
    assert doc.data == {"title": "Hello", "targets": ["hq", "embassies"], "image": {"src": "a.jpg"}}
    assert doc.values[("title",)] == Mark(1, 8)
    assert doc.keys[("title",)] == Mark(1, 1)
    assert doc.values[("targets", 1)] == Mark(4, 5)
    assert doc.values[("image", "src")] == Mark(5, 14)
    # a path that does not exist falls back to its nearest ancestor
    assert doc.mark(("image", "alt")) == Mark(5, 8)
    assert doc.mark(("targets", 1), key=True) == Mark(4, 5)


def test_scalars_keep_yaml_types() -> None:
    doc = parse_yaml(
        "a: 3\nb: 1.5\nc: true\nd: null\ne: 2026-12-01\nf: 2026-12-01 09:00:00+07:00\n"
    )
    assert doc.data["a"] == 3 and doc.data["b"] == 1.5 and doc.data["c"] is True
    assert doc.data["d"] is None
    assert doc.data["e"] == date(2026, 12, 1)
    assert doc.data["f"] == datetime(2026, 12, 1, 9, tzinfo=timezone(timedelta(hours=7)))


@pytest.mark.parametrize(
    "text",
    [
        "a: !!python/object/apply:os.system ['echo hi']\n",
        "a: !!python/name:os.system\n",
        "a: !!python/object:collections.OrderedDict {}\n",
        "a: !custom value\n",
        "a: !!binary aGVsbG8=\n",
        "a: !!set {x, y}\n",
    ],
)
def test_unsafe_and_unknown_tags_are_refused_with_the_line(text: str) -> None:
    with pytest.raises(YamlProblem) as err:
        parse_yaml("ok: 1\n" + text)
    assert err.value.line == 2
    assert "not allowed" in err.value.message


def test_standard_explicit_tags_are_accepted() -> None:
    assert parse_yaml("a: !!str 123\nb: !!int '7'\n").data == {"a": "123", "b": 7}


def test_duplicate_key_names_both_lines() -> None:
    with pytest.raises(YamlProblem) as err:
        parse_yaml("title: a\nsummary: b\ntitle: c\n")
    assert (err.value.line, err.value.column) == (3, 1)
    assert "duplicate key 'title'" in err.value.message
    assert "line 1" in err.value.message


def test_alias_bomb_is_refused() -> None:
    lines = ["l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]")
    with pytest.raises(YamlProblem) as err:
        parse_yaml("\n".join(lines) + "\n")
    assert "more than 10,000 values" in err.value.message


def test_large_files_without_aliases_are_not_mistaken_for_bombs() -> None:
    items = "".join(
        f"  - name: c{i}\n    platform: x\n    hashtags: [a, b, c]\n" for i in range(3000)
    )
    doc = parse_yaml("channels:\n" + items)
    assert len(doc.data["channels"]) == 3000
    assert doc.values[("channels", 2999, "hashtags", 2)].line == 3 * 3000 + 1


def test_recursive_alias_is_refused() -> None:
    with pytest.raises(YamlProblem, match="contains it"):
        parse_yaml("a: &a [1, *a]\n")


def test_modest_aliases_are_fine() -> None:
    doc = parse_yaml("d: &d [1, 2]\ne: *d\nf: *d\n")
    assert doc.data["f"] == [1, 2]


def test_merge_keys_explicit_keys_win_and_marks_point_to_the_source() -> None:
    text = (
        "x-defaults: &defaults\n"  # 1
        "  timezone: Asia/Jakarta\n"  # 2
        "  utm: {medium: social, source: hq}\n"  # 3
        "x-more: &more\n"  # 4
        "  timezone: Europe/Berlin\n"  # 5
        "  language: de\n"  # 6
        "channels:\n"  # 7
        "  - <<: *defaults\n"  # 8
        "    name: a\n"  # 9
        "    utm: {source: own}\n"  # 10
        "  - <<: [*defaults, *more]\n"  # 11
        "    name: b\n"  # 12
    )
    doc = parse_yaml(text)
    a, b = doc.data["channels"]
    assert a == {"timezone": "Asia/Jakarta", "utm": {"source": "own"}, "name": "a"}
    # earlier merge sources win over later ones
    assert b["timezone"] == "Asia/Jakarta" and b["language"] == "de"
    assert doc.values[("channels", 0, "timezone")].line == 2
    assert doc.values[("channels", 1, "language")].line == 6
    # the explicit utm replaced the merged one, and its old marks are gone
    assert doc.values[("channels", 0, "utm")].line == 10
    assert ("channels", 0, "utm", "medium") not in doc.values


def test_merge_of_a_scalar_is_an_error() -> None:
    with pytest.raises(YamlProblem, match="'<<' must be followed by a mapping"):
        parse_yaml("a: &a 1\nb:\n  <<: *a\n")


def test_syntax_error_is_located() -> None:
    with pytest.raises(YamlProblem) as err:
        parse_yaml("a: 1\nb: [1, 2\nc: 3\n")
    assert err.value.line >= 2
    assert err.value.hint


def test_multiple_documents_are_refused() -> None:
    with pytest.raises(YamlProblem) as err:
        parse_yaml("a: 1\n---\nb: 2\n")
    assert err.value.line == 2


def test_empty_document_is_none() -> None:
    assert parse_yaml("# nothing\n").data is None


def test_oversized_file_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("a: " + "x" * MAX_BYTES + "\n")
    with pytest.raises(YamlProblem) as err:
        read_limited(path)
    assert f"{MAX_BYTES:,} bytes" in err.value.message
    assert f"{MAX_BYTES + 4:,}" in err.value.message  # its own size


def test_non_utf8_file_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"a: 1\nb: caf\xe9\n")
    with pytest.raises(YamlProblem) as err:
        read_limited(path)
    assert err.value.line == 2


def test_deep_nesting_is_refused() -> None:
    with pytest.raises(YamlProblem, match="too deep"):
        parse_yaml("a: " + "[" * 100 + "]" * 100 + "\n")


def test_front_matter_keeps_file_line_numbers() -> None:
    text = "---\ntitle: T\nurl: https://a.example/x\n---\n\nBody line one.\n\nTwo.\n"
    front, body = split_front_matter(text)
    assert body == "Body line one.\n\nTwo."
    doc = parse_yaml(front)
    assert doc.data == {"title": "T", "url": "https://a.example/x"}
    assert doc.values[("url",)] == Mark(3, 6)


def test_front_matter_missing_or_unclosed() -> None:
    with pytest.raises(YamlProblem, match="must start with YAML front matter"):
        split_front_matter("# Title\n\ntext\n")
    with pytest.raises(YamlProblem, match="not closed"):
        split_front_matter("---\ntitle: a\n")


def test_pure_python_parser_gives_the_same_results(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without libyaml, PyYAML's own parser is used: same data, marks and refusals."""
    monkeypatch.setattr(yamlsafe, "_LOADER", yaml.SafeLoader)
    doc = parse_yaml("a: &d {x: 1}\nb:\n  <<: *d\n  y: 2\n")
    assert doc.data["b"] == {"x": 1, "y": 2} and doc.values[("b", "y")] == Mark(4, 6)
    with pytest.raises(YamlProblem) as err:
        parse_yaml("ok: 1\nbad: !!python/name:os.system\n")
    assert err.value.line == 2
    with pytest.raises(YamlProblem, match="too deep"):
        parse_yaml("a: " + "[" * 200 + "]" * 200 + "\n")
