"""Residence verification in the store: census import and match, one-time codes."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from citysmart.core import verification
from citysmart.core.accounts import AccountError, get_user, mark_verified
from citysmart.core.census import CensusError
from citysmart.core.config import Settings
from citysmart.core.models import AuditEvent, CensusRecord
from citysmart.core.time import utcnow
from citysmart.hub.runtime import HubRuntime
from tests.core.accounts_factories import clear_account_tables, create_citizen

DODAM, AREUM = "2901053", "2901058"
CSV = f"name,birth_date,address_code\n김민지,1990-04-05,{DODAM}\nJisu Park,1985-12-01,{AREUM}\n"


@pytest.fixture(autouse=True)
def empty(runtime: HubRuntime) -> None:
    clear_account_tables(runtime)


def test_import_stores_only_digests_and_skips_known_rows(
    runtime: HubRuntime, settings: Settings
) -> None:
    with runtime.sessions.begin() as session:
        first = verification.import_census(session, CSV, settings.secret_key, "admin")
    with runtime.sessions.begin() as session:
        again = verification.import_census(session, CSV, settings.secret_key, "admin")
        digests = session.scalars(select(CensusRecord.digest)).all()
        detail = session.scalars(
            select(AuditEvent.detail).where(AuditEvent.action == "census.imported")
        ).all()
    assert (first.added, first.known) == (2, 0)
    assert (again.added, again.known) == (0, 2)
    assert len(digests) == 2
    assert all("김민지" not in d and len(d) == 64 for d in digests)
    assert "김민지" not in str(detail)
    assert "1990" not in str(detail)


def test_a_bad_line_imports_nothing(runtime: HubRuntime, settings: Settings) -> None:
    bad = CSV + f"Bad,1990-01-01,{DODAM}\nWorse,1990-00-01,{DODAM}\n"
    with pytest.raises(CensusError, match="line 5"), runtime.sessions.begin() as session:
        verification.import_census(session, bad, settings.secret_key, "admin")
    with runtime.sessions() as session:
        assert verification.census_size(session) == (0, 0)


def test_census_match_verifies_once(runtime: HubRuntime, settings: Settings) -> None:
    create_citizen(runtime, "minji")
    create_citizen(runtime, "copycat")
    with runtime.sessions.begin() as session:
        verification.import_census(session, CSV, settings.secret_key, "admin")
    with runtime.sessions.begin() as session:
        user = verification.verify_by_census(
            session, "minji", "김민지", "1990-04-05", DODAM, settings.secret_key
        )
        assert (user.role, user.verification_method) == ("resident", "census")
    with pytest.raises(verification.VerificationError), runtime.sessions.begin() as session:
        verification.verify_by_census(
            session, "copycat", "김민지", "1990-04-05", DODAM, settings.secret_key
        )
    with runtime.sessions() as session:
        assert verification.census_size(session) == (2, 1)
        assert get_user(session, "copycat").verified_at is None


@pytest.mark.parametrize(
    ("name", "birth", "code"),
    [
        ("김민지", "1990-04-06", DODAM),
        ("김민지", "1990-04-05", AREUM),
        ("김민", "1990-04-05", DODAM),
    ],
)
def test_census_no_match(
    runtime: HubRuntime, settings: Settings, name: str, birth: str, code: str
) -> None:
    create_citizen(runtime, "minji")
    with runtime.sessions.begin() as session:
        verification.import_census(session, CSV, settings.secret_key, "admin")
    no_match = pytest.raises(verification.VerificationError, match="no unused census record")
    with no_match, runtime.sessions.begin() as session:
        verification.verify_by_census(session, "minji", name, birth, code, settings.secret_key)


def test_census_refuses_a_bad_birth_date(runtime: HubRuntime, settings: Settings) -> None:
    create_citizen(runtime, "minji")
    bad_date = pytest.raises(verification.VerificationError, match="YYYY-MM-DD")
    with bad_date, runtime.sessions.begin() as session:
        verification.verify_by_census(session, "minji", "A", "5 April", DODAM, "k")


def test_code_is_single_use_and_stored_as_a_digest(runtime: HubRuntime) -> None:
    create_citizen(runtime, "minji")
    create_citizen(runtime, "jisu")
    with runtime.sessions.begin() as session:
        code, row = verification.issue_code(session, "admin", days=2)
        assert code.replace("-", "") not in (row.code_hash, row.prefix)
        assert len(code) == 14
        assert code[4] == "-"
    with runtime.sessions.begin() as session:
        user = verification.verify_by_code(session, "minji", f" {code.lower()} ")
        assert (user.role, user.verification_method) == ("resident", "code")
    with pytest.raises(verification.VerificationError), runtime.sessions.begin() as session:
        verification.verify_by_code(session, "jisu", code)
    with runtime.sessions() as session:
        assert verification.open_codes(session) == []


def test_code_for_one_user_and_expiry(runtime: HubRuntime) -> None:
    create_citizen(runtime, "minji")
    create_citizen(runtime, "jisu")
    with runtime.sessions.begin() as session:
        for_minji, _ = verification.issue_code(session, "admin", for_username="minji")
        old, _ = verification.issue_code(
            session, "admin", days=1, now=utcnow() - dt.timedelta(days=2)
        )
    for username, code in (("jisu", for_minji), ("jisu", old), ("jisu", "")):
        with runtime.sessions() as session:
            with pytest.raises(verification.VerificationError):
                verification.verify_by_code(session, username, code)
            session.commit()  # the caller keeps the failure's audit event
    with runtime.sessions.begin() as session:
        verification.verify_by_code(session, "minji", for_minji)
        failures = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "verification.failed")
        ).all()
    assert len(failures) == 3


def test_issue_code_checks_its_input(runtime: HubRuntime) -> None:
    with pytest.raises(AccountError, match="1 to 365"), runtime.sessions.begin() as session:
        verification.issue_code(session, "admin", days=0)
    with pytest.raises(AccountError, match="no user"), runtime.sessions.begin() as session:
        verification.issue_code(session, "admin", for_username="ghost")


def test_a_verified_user_is_not_verified_again(runtime: HubRuntime) -> None:
    create_citizen(runtime, "minji", verified=True)
    with runtime.sessions.begin() as session:
        code, _ = verification.issue_code(session, "admin")
    already = pytest.raises(verification.VerificationError, match="already")
    with already, runtime.sessions.begin() as session:
        verification.verify_by_code(session, "minji", code)
    with pytest.raises(AccountError, match="already"), runtime.sessions.begin() as session:
        mark_verified(session, "minji", "code")
