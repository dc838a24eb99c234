"""Labels in English and Indonesian, and numbers written per language."""

from __future__ import annotations

import pytest

from dissem.reports.labels import LABELS, fmt_change, fmt_int, fmt_pct, labels


def test_every_language_has_every_key() -> None:
    assert set(LABELS) == {"en", "id"}
    assert set(LABELS["en"]) == set(LABELS["id"])
    assert all(v.strip() for lang in LABELS.values() for v in lang.values())


def test_languages_differ_where_they_should() -> None:
    en, id_ = labels("en"), labels("id")
    assert en["title"] == "Weekly report" and id_["title"] == "Laporan mingguan"
    assert id_["not_reported"] == "tidak dilaporkan oleh platform"
    same = {k for k in en if en[k] == id_[k]}
    assert same <= {"platform"}  # the only word both languages share


def test_unknown_language() -> None:
    with pytest.raises(ValueError, match="unknown report language 'fr'"):
        labels("fr")


@pytest.mark.parametrize(
    ("value", "en", "id_"),
    [
        (0, "0", "0"),
        (999, "999", "999"),
        (1234, "1,234", "1.234"),
        (-1234567, "-1,234,567", "-1.234.567"),
    ],
)
def test_fmt_int(value: int, en: str, id_: str) -> None:
    assert fmt_int(value, "en") == en
    assert fmt_int(value, "id") == id_


def test_fmt_pct_and_change() -> None:
    assert fmt_pct(0.945, "en") == "94.5%"
    assert fmt_pct(0.945, "id") == "94,5%"
    assert fmt_change(150, 100, "en") == "+50.0%"
    assert fmt_change(50, 100, "id") == "-50,0%"
    assert fmt_change(5, 5, "id") == "tidak berubah"
    assert fmt_change(5, 0, "en") == ""  # nothing to compare with
    assert fmt_change(None, 3, "en") == ""
