"""``citysmart oidc ...``: add, list and remove clients, rotate the signing key."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from citysmart.hub.runtime import HubRuntime
from citysmart.portal.oidc.cli import oidc
from citysmart.portal.oidc.keys import public_jwks
from tests.portal.test_oidc import clean_oidc as clean_oidc  # noqa: F401  (autouse fixture)


@pytest.fixture
def cli_runtime(runtime: HubRuntime, monkeypatch: pytest.MonkeyPatch) -> HubRuntime:
    """Make the commands work on the test database."""
    monkeypatch.setattr("citysmart.cli._runtime", lambda: runtime)
    return runtime


def test_clients_are_added_listed_and_removed(cli_runtime: HubRuntime) -> None:
    runner = CliRunner()
    added = runner.invoke(
        oidc, ["add-client", "Parking", "--redirect-uri", "https://parking.example/cb"]
    )
    assert added.exit_code == 0, added.output
    fields = dict(line.split(": ", 1) for line in added.output.splitlines() if ": " in line)
    assert fields["client_id"].startswith("csc_")
    assert fields["client_secret"].startswith("css_")
    public = runner.invoke(
        oidc,
        ["add-client", "Kiosk", "--redirect-uri", "http://localhost:8080/cb", "--public",
         "--trusted"],
    )  # fmt: skip
    assert public.exit_code == 0, public.output
    assert "client_secret" not in public.output
    listed = runner.invoke(oidc, ["list-clients"]).output
    assert "Parking\tconfidential\thttps://parking.example/cb" in listed
    assert "Kiosk\tpublic trusted\thttp://localhost:8080/cb" in listed
    assert fields["client_secret"] not in listed
    removed = runner.invoke(oidc, ["remove-client", fields["client_id"]])
    assert removed.exit_code == 0, removed.output
    assert "Parking" not in runner.invoke(oidc, ["list-clients"]).output
    again = runner.invoke(oidc, ["remove-client", fields["client_id"]])
    assert again.exit_code != 0
    assert "no client" in again.output


def test_bad_redirect_uri_is_a_clear_error(cli_runtime: HubRuntime) -> None:
    result = CliRunner().invoke(oidc, ["add-client", "X", "--redirect-uri", "http://x.example/"])
    assert result.exit_code != 0
    assert "plain http only for localhost" in result.output


def test_rotate_key_adds_a_published_key(cli_runtime: HubRuntime) -> None:
    with cli_runtime.sessions.begin() as session:
        before = [k["kid"] for k in public_jwks(session)["keys"]]
    result = CliRunner().invoke(oidc, ["rotate-key"])
    assert result.exit_code == 0, result.output
    with cli_runtime.sessions.begin() as session:
        after = [k["kid"] for k in public_jwks(session)["keys"]]
    assert after[1:] == before
    assert after[0] in result.output
