"""The caseworker's pages, driven through a browser-like client: sign in, create, consent,
note, refer, decide, withdraw, edit with a stale form, search, French."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tiphub.cases import accounts
from tiphub.demo.hub import ensure_demo_hub
from tiphub.web.app import create_app
from tiphub.web.settings import HubSettings

PASSWORD = "correct horse battery staple 42"
FAMILY_NAME = "Núñez-Müller"


@pytest.fixture
def hub(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    monkeypatch.setenv("TIPHUB_DEMO_PASSWORD", PASSWORD)
    # Cheap hashing keeps 15 demo users fast; production parameters are tested elsewhere.
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024))
    # Demo cases are not needed: every case here is made through the forms.
    ensure_demo_hub(engine)
    yield engine


def client_for(engine: Engine) -> TestClient:
    return TestClient(
        create_app(engine, HubSettings(demo=True, secure_cookies=False)),
        base_url="http://testserver",
        follow_redirects=False,
    )


def hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, name
    return found.group(1).replace("&#34;", '"').replace("&quot;", '"')


def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> None:
    page = client.get("/signin")
    response = client.post(
        "/signin",
        data={
            "username": username,
            "password": password,
            "csrf_token": hidden(page.text, "csrf_token"),
        },
    )
    assert response.status_code == 303, response.text


def signed_in(engine: Engine, username: str) -> TestClient:
    client = client_for(engine)
    sign_in(client, username)
    return client


def csrf(client: TestClient, path: str = "/cases") -> str:
    return hidden(client.get(path).text, "csrf_token")


def create_case(client: TestClient, **extra: str) -> str:
    form = client.get("/cases/new")
    assert form.status_code == 200
    data = {
        "csrf_token": hidden(form.text, "csrf_token"),
        "role": "Victim",
        "case__status": "Active",
        "case__opened_on": "2024-01-02",
        "person__first_name": "Amaia",
        "person__family_name": FAMILY_NAME,
        "person__birth_date": "1999-05-06",
        "assessment__status": "PossibleVictimOfTrafficking",
        **extra,
    }
    response = client.post("/cases/new", data=data)
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert re.fullmatch(r"/cases/[0-9a-f-]{36}", location)
    return str(location)


def first_option(html: str, name: str) -> str:
    found = re.search(rf'name="{name}"[^>]*>\s*<option value="([^"]+)"', html)
    assert found, name
    return found.group(1)


def add_consent(client: TestClient, case_url: str, purpose: str, on: str) -> None:
    page = client.get(f"{case_url}/consents/new")
    assert page.status_code == 200
    response = client.post(
        f"{case_url}/consents/new",
        data={
            "csrf_token": hidden(page.text, "csrf_token"),
            "if_match": hidden(page.text, "if_match"),
            "person_external_id": first_option(page.text, "person_external_id"),
            "purpose": purpose,
            "given": "yes",
            "recorded_on": on,
        },
    )
    assert response.status_code == 303, response.text


def refer(client: TestClient, case_url: str, to: str, sections: list[str]) -> int:
    page = client.get(f"{case_url}/refer")
    assert page.status_code == 200
    response = client.post(
        f"{case_url}/refer",
        data={
            "csrf_token": hidden(page.text, "csrf_token"),
            "to_organisation": to,
            "sections": sections,
            "basis": "consent",
        },
    )
    return int(response.status_code)


def test_sign_in_failure_is_vague_and_success_sets_a_strict_cookie(hub: Engine) -> None:
    client = client_for(hub)
    page = client.get("/signin")
    assert page.status_code == 200
    token = hidden(page.text, "csrf_token")
    refused = client.post(
        "/signin",
        data={
            "username": "caseworker@demo-ngo",
            "password": "wrong password!!",
            "csrf_token": token,
        },
    )
    assert refused.status_code == 401
    assert "username, password or code is not correct" in refused.text
    assert "tiphub_session" not in refused.headers.get("set-cookie", "")
    unknown = client.post(
        "/signin",
        data={
            "username": "nobody@nowhere",
            "password": "wrong password!!",
            "csrf_token": hidden(refused.text, "csrf_token"),
        },
    )
    assert unknown.status_code == 401

    # No hint whether the user exists: the two refusals say the same.
    def without_values(html: str) -> str:
        # The fresh sign-in form token differs between the pages, and only it.
        return re.sub(r'value="[^"]*"', "", html).replace(hidden(html, "csrf_token"), "")

    assert without_values(unknown.text) == without_values(refused.text)

    forged = client_for(hub).post(
        "/signin",
        data={"username": "caseworker@demo-ngo", "password": PASSWORD, "csrf_token": "forged"},
    )
    assert forged.status_code == 403

    ok = client.post(
        "/signin",
        data={
            "username": "caseworker@demo-ngo",
            "password": PASSWORD,
            "csrf_token": hidden(client.get("/signin").text, "csrf_token"),
            "next": "//evil.example/",
        },
    )
    assert ok.status_code == 303
    assert ok.headers["location"] == "/"
    cookie = next(
        value for value in ok.headers.get_list("set-cookie") if value.startswith("tiphub_session=")
    )
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert "Max-Age" not in cookie
    assert client.get("/").headers["location"] == "/cases"

    # A POST without the CSRF token is refused; with it, sign-out ends the session.
    assert client.post("/auth/logout").status_code == 403
    token = csrf(client)
    assert client.post("/auth/logout", data={"csrf_token": token}).status_code == 303
    assert client.get("/cases").status_code == 303


def test_start_page_by_role(hub: Engine) -> None:
    assert client_for(hub).get("/").headers["location"] == "/signin"
    for role, target in (("auditor", "/audit"), ("admin", "/admin/users"), ("analyst", "/cases")):
        assert signed_in(hub, f"{role}@demo-ngo").get("/").headers["location"] == target


def test_quick_exit_ends_the_session(hub: Engine) -> None:
    client = signed_in(hub, "caseworker@demo-ngo")
    token = csrf(client)
    assert client.post("/auth/quick-exit", files={"csrf_token": (None, token)}).status_code == 204
    assert client.get("/cases").status_code == 303


def test_case_flow_create_consent_note_refer_accept_withdraw(hub: Engine) -> None:
    ngo = signed_in(hub, "caseworker@demo-ngo")
    case_url = create_case(ngo)
    listing = ngo.get("/cases")
    reference = re.search(r"<h1>Case ([^<]+)</h1>", ngo.get(case_url).text)
    assert reference
    assert reference.group(1) in listing.text
    assert FAMILY_NAME not in listing.text  # no names in the list
    page = ngo.get(case_url).text
    assert FAMILY_NAME in page and "Amaia" in page

    # Refusal without consent, then consent and a note, shown in date order.
    assert refer(ngo, case_url, "demo-police", ["victim", "notes"]) == 422
    add_consent(ngo, case_url, "Referral", "2024-03-01")
    note_form = ngo.get(f"{case_url}/notes/new")
    response = ngo.post(
        f"{case_url}/notes/new",
        data={
            "csrf_token": hidden(note_form.text, "csrf_token"),
            "if_match": hidden(note_form.text, "if_match"),
            "text": "First meeting at the shelter.",
            "written_on": "2024-02-10",
        },
    )
    assert response.status_code == 303
    page = ngo.get(case_url).text
    timeline = page[page.index('<ol class="timeline">') :]
    opened = timeline.index("Case opened")
    noted = timeline.index("First meeting at the shelter.")
    consented = timeline.index("Referral to services")
    assert opened < noted < consented

    # Referral to the police, who see only the shared sections and accept.
    assert refer(ngo, case_url, "demo-police", ["victim", "notes"]) == 303
    police = signed_in(hub, "caseworker@demo-police")
    inbox = police.get("/referrals")
    assert reference.group(1) in inbox.text
    shared = police.get(case_url)
    assert shared.status_code == 200
    assert "First meeting at the shelter." in shared.text
    assert FAMILY_NAME not in shared.text  # identity not shared
    assert "Referral to services" not in shared.text  # consents not shared
    assert "/edit" not in shared.text
    share_id = re.search(r'action="/referrals/([0-9a-f-]+)/accept"', inbox.text)
    assert share_id
    accepted = police.post(
        f"/referrals/{share_id.group(1)}/accept", data={"csrf_token": csrf(police)}
    )
    assert accepted.status_code == 303
    assert "Accepted" in police.get("/referrals").text

    # The NGO withdraws from the case page: the police lose access at once.
    page = ngo.get(case_url).text
    assert f'action="/referrals/{share_id.group(1)}/withdraw"' in page
    withdrawn = ngo.post(
        f"/referrals/{share_id.group(1)}/withdraw",
        data={"csrf_token": hidden(page, "csrf_token"), "next": case_url},
    )
    assert withdrawn.status_code == 303 and withdrawn.headers["location"] == case_url
    assert police.get(case_url).status_code == 404

    # The analyst sees the case without names or free text.
    analyst = signed_in(hub, "analyst@demo-ngo")
    page = analyst.get(case_url)
    assert page.status_code == 200
    assert FAMILY_NAME not in page.text and "Amaia" not in page.text
    assert "First meeting" not in page.text


def test_new_case_errors_keep_input_but_never_echo_it(hub: Engine) -> None:
    client = signed_in(hub, "caseworker@demo-ngo")
    form = client.get("/cases/new")
    response = client.post(
        "/cases/new",
        data={
            "csrf_token": hidden(form.text, "csrf_token"),
            "role": "Victim",
            "person__family_name": FAMILY_NAME,
            "person__birth_date": "not-a-date-Secret",
            "assessment__status": "",
        },
    )
    assert response.status_code == 422
    assert 'value="not-a-date-Secret"' in response.text
    errors = re.findall(r'class="error-message"[^>]*>(.*?)</p>', response.text, re.S)
    assert errors and not any("Secret" in error or FAMILY_NAME in error for error in errors)


def test_stale_edit_shows_the_current_version_and_changes_nothing(hub: Engine) -> None:
    first = signed_in(hub, "caseworker@demo-ngo")
    case_url = create_case(first)
    stale_form = first.get(f"{case_url}/edit").text
    second = signed_in(hub, "supervisor@demo-ngo")
    fresh_form = second.get(f"{case_url}/edit").text
    saved = second.post(
        f"{case_url}/edit",
        data={
            "csrf_token": hidden(fresh_form, "csrf_token"),
            "if_match": hidden(fresh_form, "if_match"),
            "status": "FollowUp",
            "opened_on": "2024-01-02",
        },
    )
    assert saved.status_code == 303
    conflict = first.post(
        f"{case_url}/edit",
        data={
            "csrf_token": hidden(stale_form, "csrf_token"),
            "if_match": hidden(stale_form, "if_match"),
            "status": "Closed",
            "opened_on": "2024-01-02",
        },
    )
    assert conflict.status_code == 412
    assert "Someone else changed this case" in conflict.text
    assert re.search(r'<option value="FollowUp" selected>', conflict.text)
    assert "Follow Up" in first.get(case_url).text


def test_search_by_family_name_needs_an_identity_role(hub: Engine) -> None:
    caseworker = signed_in(hub, "caseworker@demo-ngo")
    case_url = create_case(caseworker)
    case_id = case_url.rsplit("/", 1)[1]
    search = {"q": "nunez-muller", "csrf_token": csrf(caseworker)}
    found = caseworker.post("/cases", data=search)
    assert case_id in found.text
    partial = caseworker.post("/cases", data=search, headers={"HX-Request": "true"})
    assert case_id in partial.text and "<html" not in partial.text
    # A search by GET is not a search (names must not travel in addresses): the list stays whole.
    ignored = caseworker.get("/cases", params={"q": "zzzz-no-such-name"}).text
    assert "No case matches." not in ignored and case_id in ignored
    analyst = signed_in(hub, "analyst@demo-ngo")
    assert case_id in analyst.get("/cases").text or "Next page" in analyst.get("/cases").text
    analyst_search = {"q": "nunez-muller", "csrf_token": csrf(analyst)}
    assert case_id not in analyst.post("/cases", data=analyst_search).text


def test_french_pages(hub: Engine) -> None:
    client = signed_in(hub, "caseworker@demo-ngo")
    case_url = create_case(client)
    french = {"Accept-Language": "fr"}
    listing = client.get("/cases", headers=french)
    assert "Dossiers" in listing.text and "Rechercher" in listing.text
    page = client.get(case_url, headers=french)
    assert "Chronologie" in page.text and "Timeline" not in page.text
    token = csrf(client)
    chosen = client.post("/locale", data={"locale": "fr", "next": "/cases", "csrf_token": token})
    assert chosen.status_code == 303 and chosen.headers["location"] == "/cases"
    assert "Dossiers" in client.get("/cases").text
