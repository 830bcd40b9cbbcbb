"""The authorisation matrix, generated from the application's route table.

Every route must declare one rule (``tiphub.web.security``). For every role of every demo
organisation, every route is called on a record in the caller's scope and, where the path
names a record, on one outside it:

* a role without the rule's permission gets 403 (a 403 page for pages);
* a role with it gets 404 for a record outside its scope: never 403 (which would confirm the
  record exists), never 200 with data;
* nobody ever gets a 5xx;
* without credentials, API routes answer 401 and pages redirect to /signin (public routes
  excepted, which must never answer 401/403).

A path parameter the table below does not know fails the test, so a new kind of route
forces whoever adds it to say what an in-scope and an out-of-scope value is.
"""

from __future__ import annotations

import inspect
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import BaseRoute

from tests.web.hub_fixtures import (  # noqa: F401  (hub is a fixture)
    CSRF_INPUT,
    ORGANISATIONS,
    ROLES,
    Hub,
    hub_fixture,
    organisation_of,
    role_of,
)
from tiphub.cases import accounts
from tiphub.cases.access import built_in_roles
from tiphub.release.api import ReleaseRequest
from tiphub.release.publishing import hub_dataset, record_release
from tiphub.release.table import table_from_rows
from tiphub.web.security import Rule, route_rule

# FastAPI's own documentation routes (and the static files mount): not ours to protect.
SKIPPED_PATHS = frozenset(
    {"/api/v1/openapi.json", "/api/v1/docs", "/api/v1/redoc", "/docs/oauth2-redirect"}
)
SKIPPED_PREFIXES = ("/static",)
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
UNKNOWN_TOKEN = "A" * 32
PATH_PARAMETER = re.compile(r"{([^}:]+)(?::[^}]*)?}")

# Bodies that pass validation, so a write on an out-of-scope record reaches the scope check
# (with an empty body, validation answers 422 before any record is looked at).
MINIMAL_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("PATCH", "/api/v1/cases/{case_id}"): {"status": "Active"},
    ("POST", "/api/v1/cases/{case_id}/notes"): {"text": "authorisation matrix check"},
    ("POST", "/api/v1/cases/{case_id}/consents"): {
        "person_external_id": "matrix-p1",
        "purpose": "DataProcessing",
        "given": True,
    },
    ("POST", "/api/v1/cases/{case_id}/events"): {"type": "Recruitment"},
}


# Refusals in scope that are not about the route's rule but about the role's data access,
# with the reason: (role, method, path).
DOMAIN_REFUSALS = {
    # The default export holds identity; an analyst exports de-identified records only.
    ("analyst", "POST", "/api/v1/exports"),
}


@dataclass(frozen=True)
class Endpoint:
    """An API route as mounted: its full path, its methods and its resolved dependencies."""

    path: str
    methods: frozenset[str]
    dependant: Any


@dataclass(frozen=True)
class Call:
    route: Endpoint
    method: str
    rule: Rule


def api_routes(routes: list[BaseRoute]) -> list[Endpoint]:
    """Every APIRoute of the application. FastAPI ≥ 0.16x keeps included routers as
    ``_IncludedRouter`` entries of ``app.routes``; their routes (with the prefix applied)
    come from ``effective_route_contexts()``."""
    found = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(Endpoint(route.path, frozenset(route.methods or ()), route.dependant))
        elif hasattr(route, "effective_route_contexts"):
            for context in route.effective_route_contexts():
                if isinstance(context.original_route, APIRoute):
                    found.append(
                        Endpoint(context.path, frozenset(context.methods or ()), context.dependant)
                    )
    return found


def _is_skipped(path: str) -> bool:
    return path in SKIPPED_PATHS or path.startswith(SKIPPED_PREFIXES)


def _calls(routes: list[BaseRoute]) -> list[Call]:
    unruled = []
    calls = []
    for route in api_routes(routes):
        if _is_skipped(route.path):
            continue
        rule = route_rule(route)
        if rule is None:
            unruled.append(f"{sorted(route.methods)} {route.path}")
            continue
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            calls.append(Call(route, method, rule))
    assert not unruled, f"routes without an access rule: {unruled}"
    return calls


class Examples:
    """In-scope and out-of-scope values of path parameters, per acting user."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.tokens: dict[str, uuid.UUID] = {}
        self.by_name: dict[str, Callable[[str, bool], str]] = {
            "case_id": self.case,
            "id": self.case,
            "referral_id": self.referral,
            "share_id": self.referral,
            "username": self.user,
            "token_id": self.token,
            "organisation": self.organisation,
            "slug": self.organisation,
            # Not a record: the referral decision named in the path.
            "decision": lambda username, in_scope: "accept",
            # Records the hub builds no example of (yet): a well-formed id of none at all,
            # which must look exactly like one outside the scope (404), never 403 or 5xx.
            "export_id": lambda username, in_scope: UNKNOWN_TOKEN,
            "token": lambda username, in_scope: UNKNOWN_TOKEN,
            "item_id": lambda username, in_scope: "987654321",
            "screening_id": lambda username, in_scope: str(uuid.UUID(int=7)),
            "task_id": lambda username, in_scope: str(uuid.UUID(int=7)),
            # A referral reference and a mechanism step: a step on no referral is refused
            # (422) in scope and not found (404) outside it.
            "reference": lambda username, in_scope: "uk-nrm-000000",
            "transition_id": lambda username, in_scope: "rg_positive",
            # Not a record: instruments are public reference data.
            "instrument_id": lambda username, in_scope: (
                "qyit" if in_scope else "no-such-instrument"
            ),
            # A draft release of the caller's organisation, or of another one. The release
            # routes walk it through approval and publication as the matrix goes.
            "release_id": self.release,
            # A file of a release: a public one, or a review file (never on the public page).
            "name": lambda username, in_scope: "privacy.json" if in_scope else "report.html",
        }
        self.releases: dict[str, uuid.UUID] = {}

    def value(self, name: str, username: str, in_scope: bool) -> str:
        maker = self.by_name.get(name)
        assert maker is not None, (
            f"the authorisation matrix has no example for path parameter {{{name}}}: add "
            "in-scope and out-of-scope values to Examples in tests/web/test_authz_matrix.py"
        )
        return maker(username, in_scope)

    def case(self, username: str, in_scope: bool) -> str:
        org = organisation_of(username)
        found = self.hub.case_in_scope(org) if in_scope else self.hub.case_out_of_scope(org)
        return str(found)

    def referral(self, username: str, in_scope: bool) -> str:
        org = organisation_of(username)
        if in_scope:
            return str(self.hub.referral_in_scope(org))
        return str(self.hub.referral_out_of_scope(org))

    def user(self, username: str, in_scope: bool) -> str:
        org = organisation_of(username)
        return self.hub.user_in_scope(org) if in_scope else self.hub.user_out_of_scope(org)

    def organisation(self, username: str, in_scope: bool) -> str:
        org = organisation_of(username)
        return org if in_scope else next(slug for slug in ORGANISATIONS if slug != org)

    def release(self, username: str, in_scope: bool) -> str:
        org = organisation_of(username)
        owner = org if in_scope else next(slug for slug in ORGANISATIONS if slug != org)
        if owner not in self.releases:
            self.releases[owner] = _small_release(self.hub, owner)
        return str(self.releases[owner])

    def token(self, username: str, in_scope: bool) -> str:
        # A token of the caller (never the one it is signed in with), or someone else's.
        owner = username if in_scope else self.hub.user_out_of_scope(organisation_of(username))
        if owner not in self.tokens:
            issued = accounts.issue_token(self.hub.engine, self.hub.principal(owner), "api")
            self.tokens[owner] = issued.token_id
        return str(self.tokens[owner])


def _small_release(hub: Hub, organisation: str) -> uuid.UUID:
    """A draft release of the organisation, made from a small table (fast), not its cases."""
    analyst = hub.principal(f"analyst@{organisation}")
    rows = [{"gender": "Woman" if i % 3 else "Man", "ageBroad": "18--20"} for i in range(12)]
    info, _ = record_release(
        hub.engine,
        analyst,
        hub_dataset(analyst),
        ReleaseRequest("aggregates", k=2, max_length=1, title="authorisation matrix"),
        table_from_rows(rows, ["gender", "ageBroad"], source="the matrix"),
        organisation_id=analyst.organisation_id,
    )
    return info.id


def _parameters(path: str) -> list[str]:
    return PATH_PARAMETER.findall(path)


def _url(path: str, values: dict[str, str]) -> str:
    return PATH_PARAMETER.sub(lambda match: values[match.group(1)], path)


def _is_api(path: str) -> bool:
    return path.startswith("/api/")


def _send(
    client: TestClient, call: Call, url: str, username: str, password: str, hub: Hub
) -> httpx.Response:
    path = call.route.path
    headers = {"If-Match": '"authorisation-matrix"'} if call.method in WRITE_METHODS else {}
    if call.method in ("GET", "DELETE"):
        answer: httpx.Response = client.request(call.method, url, headers=headers)
        return answer
    if _is_api(path):
        body = MINIMAL_BODIES.get((call.method, path), {})
        answer = client.request(call.method, url, json=body, headers=headers)
        return answer
    form = {"csrf_token": client.headers.get("x-csrf-token", "")}
    if call.rule.public:
        # A public form (sign-in) carries its own double-submit token, bound to the form it
        # was rendered in; it gets the caller's credentials, so the answer is the route's
        # real one rather than a refused sign-in. A separate client, so that signing in
        # again does not replace the session (and CSRF token) of the caller's own client.
        client = hub.anonymous_client()
        rendered = client.get(url)
        found = CSRF_INPUT.search(rendered.text) if rendered.status_code == 200 else None
        if found:
            form["csrf_token"] = found.group(1) or found.group(2)
        form.update(username=username, password=password)
    answer = client.request(call.method, url, data=form, headers=headers)
    return answer


def _permitted(username: str, rule: Rule) -> bool:
    return rule.allows(built_in_roles()[role_of(username)].permissions)


class Clients:
    """One signed-in client per user and kind, rebuilt when a call ended its session."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.cache: dict[tuple[str, bool], TestClient] = {}

    def get(self, username: str, api: bool) -> TestClient:
        key = (username, api)
        if key not in self.cache:
            self.cache[key] = (
                self.hub.client_for(username) if api else self.hub.session_client_for(username)
            )
        return self.cache[key]

    def check_alive(self, username: str, api: bool) -> None:
        client = self.cache.get((username, api))
        if client is not None and client.get("/api/v1/auth/tokens").status_code != 200:
            del self.cache[(username, api)]


def test_every_route_declares_exactly_one_access_rule(hub: Hub) -> None:
    calls = _calls(hub.app.routes)
    assert calls, "the application has no routes"
    for call in calls:
        rules = [
            getattr(dependency.call, "rule", None)
            for dependency in call.route.dependant.dependencies
        ]
        declared = [rule for rule in rules if isinstance(rule, Rule)]
        assert len(declared) == 1, f"{call.route.path} declares {len(declared)} rules"


# Routes that are coroutines run in the event loop: they may await, never block on the
# database, a password hash or the audit log (one such route stalled every request of its
# process under load). These two do no blocking work of their own.
NON_BLOCKING_ROUTES = {"/api/v1/health", "/"}


def test_no_route_blocks_the_event_loop(hub: Hub) -> None:
    coroutines = sorted(
        {
            route.path
            for route in api_routes(hub.app.routes)
            if inspect.iscoroutinefunction(route.dependant.call)
        }
    )
    assert coroutines == sorted(NON_BLOCKING_ROUTES)


def test_unauthenticated_callers_are_refused_or_sent_to_sign_in(hub: Hub) -> None:
    examples = Examples(hub)
    client = hub.anonymous_client()
    failures = []
    for call in _calls(hub.app.routes):
        values = {
            name: examples.value(name, "caseworker@demo-ngo", True)
            for name in _parameters(call.route.path)
        }
        url = _url(call.route.path, values)
        answer = _send(client, call, url, "caseworker@demo-ngo", hub.password, hub)
        where = f"{call.method} {call.route.path} → {answer.status_code}"
        if answer.status_code >= 500:
            failures.append(f"{where}: server error")
        elif call.rule.public:
            if answer.status_code in (401, 403):
                failures.append(f"{where}: a public route refused an anonymous caller")
        elif _is_api(call.route.path):
            if answer.status_code != 401:
                failures.append(f"{where}: expected 401")
        elif answer.status_code not in (302, 303, 307) or not answer.headers.get(
            "location", ""
        ).startswith("/signin"):
            failures.append(f"{where}: expected a redirect to /signin")
    assert not failures, "\n".join(failures)


def test_authorisation_matrix(hub: Hub) -> None:
    examples = Examples(hub)
    clients = Clients(hub)
    calls = _calls(hub.app.routes)
    failures: list[str] = []
    unexercised: set[str] = set()
    checked = 0
    for organisation in ORGANISATIONS:
        for role in ROLES:
            username = f"{role}@{organisation}"
            for call in calls:
                path = call.route.path
                parameters = _parameters(path)
                api = _is_api(path)
                for in_scope in (True, False) if parameters else (True,):
                    values = {name: examples.value(name, username, in_scope) for name in parameters}
                    url = _url(path, values)
                    client = clients.get(username, api)
                    answer = _send(client, call, url, username, hub.password, hub)
                    checked += 1
                    status = answer.status_code
                    where = (
                        f"{username} {call.method} {path} "
                        f"({'in' if in_scope else 'out of'} scope) → {status}"
                    )
                    if status >= 500:
                        failures.append(f"{where}: server error")
                    elif call.rule.public:
                        if status in (401, 403):
                            failures.append(f"{where}: a public route refused a caller")
                    elif not _permitted(username, call.rule):
                        if status != 403:
                            failures.append(f"{where}: expected 403 ({call.rule})")
                    elif status == 401:
                        failures.append(f"{where}: a signed-in caller was not recognised")
                    elif not in_scope:
                        if status == 422 and call.method in WRITE_METHODS:
                            # Body validation ran before the record was looked up: no leak,
                            # but the scope check was not reached (add a minimal body).
                            unexercised.add(f"{call.method} {path}")
                        elif status != 404:
                            failures.append(f"{where}: expected 404 outside the scope")
                    elif status == 403 and (role, call.method, path) not in DOMAIN_REFUSALS:
                        failures.append(f"{where}: refused although the role has {call.rule}")
                    if call.method in WRITE_METHODS:
                        clients.check_alive(username, api)
    assert checked > 0
    assert not failures, f"{len(failures)} of {checked} calls wrong:\n" + "\n".join(failures)
    if unexercised:
        print("scope not reached (422 before lookup):", sorted(unexercised))
