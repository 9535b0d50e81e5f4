"""The census file and its digests (pure: no database)."""

from __future__ import annotations

import datetime as dt

import pytest

from citysmart.core.census import (
    CensusError,
    census_key,
    normalise_name,
    parse_census,
    person_digest,
)

KEY = census_key("test-secret-key-of-sufficient-length-0123456789")
CODES = {"2901053", "2901058"}
HEADER = "name,birth_date,address_code\n"


def test_names_are_compared_nfc_casefolded_and_whitespace_collapsed() -> None:
    decomposed = "\u1100\u1161\u11ab"  # 간 as jamo
    assert normalise_name(f"  {decomposed}  Ana\tLEE ") == "간 ana lee"


def test_digest_is_keyed_and_stable() -> None:
    birth = dt.date(1990, 4, 5)
    a = person_digest(KEY, "Ana Lee", birth, "2901053")
    assert a == person_digest(KEY, " ana  lee", birth, "2901053")
    assert a != person_digest(census_key("another key"), "Ana Lee", birth, "2901053")
    assert a != person_digest(KEY, "Ana Lee", birth, "2901058")
    assert "Ana" not in a
    assert len(a) == 64


def test_parse_reads_rows_with_extra_columns_and_a_bom() -> None:
    text = (
        "\ufeffaddress_code,name,birth_date,note\n"
        "2901053,김민지,1990-04-05,x\n\n2901058,B,2001-01-31,\n"
    )
    rows = parse_census(text, KEY, CODES)
    assert [r.line for r in rows] == [2, 4]
    assert rows[0].digest == person_digest(KEY, "김민지", dt.date(1990, 4, 5), "2901053")


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("", 0, "empty"),
        ("name,birth\n", 1, "lacks"),
        (HEADER, 0, "no residents"),
        (HEADER + "A,1990-02-30,2901053\n", 2, "YYYY-MM-DD"),
        (HEADER + "A,90-01-01,2901053\n", 2, "YYYY-MM-DD"),
        (HEADER + "A,1990-01-01,1111111\n", 2, "not a Sejong"),
        (HEADER + " ,1990-01-01,2901053\n", 2, "name is empty"),
        (HEADER + "A,1990-01-01\n", 2, "fields"),
        (
            HEADER + "A,1990-01-01,2901053\nB,1990-01-01,2901053\na,1990-01-01,2901053\n",
            4,
            "line 2",
        ),
    ],
)
def test_bad_files_name_the_line_and_reason(text: str, line: int, reason: str) -> None:
    with pytest.raises(CensusError) as caught:
        parse_census(text, KEY, CODES)
    assert caught.value.line == line
    assert reason in str(caught.value)
