"""The list columns of a movie (display title, year, sort key) from its metadata."""

from __future__ import annotations

from typing import Any

import pytest

from metarr.domain.titles import DisplayTitle, display_title, sort_key


@pytest.mark.parametrize(
    ("title", "key"),
    [
        ("The Matrix", "matrix"),
        ("A Bug's Life", "bug's life"),
        ("An American Tail", "american tail"),
        ("  THE Thing ", "thing"),
        ("Theodora", "theodora"),  # an article only as a whole word
        ("Anastasia", "anastasia"),
        ("Alien", "alien"),
        ("Straße", "strasse"),  # casefolded, not just lower-cased
        ("", ""),
        (None, ""),
    ],
)
def test_sort_key_drops_a_leading_article(title: str | None, key: str) -> None:
    assert sort_key(title) == key


@pytest.mark.parametrize(
    ("fields", "parsed", "expected"),
    [
        # metadata wins over the parsed name
        (
            {"title": "The Matrix", "year": 1999},
            ("Matrix", 1998),
            DisplayTitle("The Matrix", 1999, "matrix"),
        ),
        # nothing stored: the name parsed from the files
        ({}, ("The Matrix", 1999), DisplayTitle("The Matrix", 1999, "matrix")),
        # empty values count as missing
        (
            {"title": "", "year": None, "sort_title": ""},
            ("Heat", 1995),
            DisplayTitle("Heat", 1995, "heat"),
        ),
        # the sort title drives the sort key only
        (
            {"title": "The Matrix", "sort_title": "Matrix 1"},
            ("x", None),
            DisplayTitle("The Matrix", None, "matrix 1"),
        ),
        # no year: the premiered date's year, before the parsed one
        ({"premiered": "1999-03-30"}, ("Matrix", 1998), DisplayTitle("Matrix", 1999, "matrix")),
        ({"year": 2000, "premiered": "1999-03-30"}, ("M", None), DisplayTitle("M", 2000, "m")),
        ({"premiered": "soon"}, ("M", 1998), DisplayTitle("M", 1998, "m")),
        ({"premiered": "0000-01-01"}, ("M", 1998), DisplayTitle("M", 1998, "m")),
        ({}, (None, None), DisplayTitle(None, None, "")),
    ],
)
def test_display_title(
    fields: dict[str, Any], parsed: tuple[str | None, int | None], expected: DisplayTitle
) -> None:
    assert display_title(fields, *parsed) == expected
