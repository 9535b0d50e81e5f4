"""OIDC clients and keys: registration rules, removal, key rotation, sign-in round trips."""

from __future__ import annotations

import base64
import secrets
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from citysmart.core.models import AuditEvent
from citysmart.hub.runtime import HubRuntime
from citysmart.portal.oidc import keys
from citysmart.portal.oidc.clients import ClientError, add_client, list_clients, remove_client
from citysmart.portal.oidc.models import OidcClient
from tests.portal.test_oidc import (
    PASSWORD,
    REDIRECT,
    authorize_params,
    exchange,
    get_code,
    make_client,
    make_user,
    sign_in,
    verify_id_token,
)
from tests.portal.test_oidc import clean_oidc as clean_oidc  # noqa: F401  (autouse fixture)


@pytest.mark.parametrize(
    ("uri", "why"),
    [
        ("http://rp.example/cb", "plain http only for localhost"),
        ("https://rp.example/cb#frag", "no fragment"),
        ("/callback", "absolute"),
        ("javascript:alert(1)", "absolute"),
    ],
)
def test_bad_redirect_uris_are_refused(runtime: HubRuntime, uri: str, why: str) -> None:
    with runtime.sessions.begin() as session, pytest.raises(ClientError, match=why):
        add_client(session, "Bad", [uri])


def test_secret_is_kept_as_a_digest_and_removal_is_audited(runtime: HubRuntime) -> None:
    with runtime.sessions.begin() as session:
        client, secret = add_client(session, "Parking", [REDIRECT, "http://localhost:9000/cb"])
        client_id = client.client_id
    assert secret is not None
    assert secret.startswith("css_")
    with runtime.sessions.begin() as session:
        row = session.scalars(select(OidcClient)).one()
        assert row.secret_hash is not None
        assert secret not in row.secret_hash
        assert [c.client_id for c in list_clients(session)] == [client_id]
        remove_client(session, client_id)
    with runtime.sessions.begin() as session:
        assert list_clients(session) == []
        actions = session.scalars(select(AuditEvent.action)).all()
        assert {"oidc.client_added", "oidc.client_removed"} <= set(actions)
        with pytest.raises(ClientError, match="no client"):
            remove_client(session, client_id)


def test_rotation_signs_with_the_new_key_and_keeps_the_previous(
    client: TestClient, runtime: HubRuntime
) -> None:
    first = client.get("/oidc/jwks").json()["keys"][0]["kid"]
    with runtime.sessions.begin() as session:
        second = keys.rotate(session)
    assert [k["kid"] for k in client.get("/oidc/jwks").json()["keys"]] == [second, first]
    with runtime.sessions.begin() as session:
        third = keys.rotate(session)
    assert [k["kid"] for k in client.get("/oidc/jwks").json()["keys"]] == [third, second]

    make_user(runtime)
    client_id, secret = make_client(runtime, trusted=True)
    sign_in(client)
    verifier = secrets.token_urlsafe(48)
    params = authorize_params(client_id, verifier)
    tokens = exchange(client, get_code(client, params), verifier, client_id, secret).json()
    verify_id_token(client, tokens["id_token"], client_id, params["nonce"])
    header = tokens["id_token"].split(".")[0]
    assert third in _decode_header(header)


def _decode_header(segment: str) -> str:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)).decode()


def test_signing_in_on_the_way_ends_on_a_page_that_moves_on(
    client: TestClient, runtime: HubRuntime
) -> None:
    make_user(runtime)
    client_id, _ = make_client(runtime, trusted=True)
    params = authorize_params(client_id, secrets.token_urlsafe(48))
    to_sign_in = client.get("/oidc/authorize", params=params, follow_redirects=False)
    next_url = parse_qs(urlsplit(to_sign_in.headers["location"]).query)["next"][0]
    page = client.get("/signin", params={"next": next_url})
    csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
    back = client.post(
        "/signin",
        data={"username": "minji", "password": PASSWORD, "csrf": csrf, "next": next_url},
        follow_redirects=False,
    )
    assert back.headers["location"] == next_url
    moving_on = client.get(next_url, follow_redirects=False)
    assert moving_on.status_code == 200
    assert moving_on.headers["cache-control"] == "no-store"
    assert f'http-equiv="refresh" content="0; url={REDIRECT}?code=' in moving_on.text


def test_prompt_none_answers_login_required_to_the_client(
    client: TestClient, runtime: HubRuntime
) -> None:
    client_id, _ = make_client(runtime)
    params = authorize_params(client_id, secrets.token_urlsafe(48), prompt="none")
    answer = client.get("/oidc/authorize", params=params, follow_redirects=False)
    assert answer.status_code == 302
    query = parse_qs(urlsplit(answer.headers["location"]).query)
    assert query["error"] == ["login_required"]
    assert query["state"] == [params["state"]]
