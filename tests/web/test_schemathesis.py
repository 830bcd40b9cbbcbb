"""Property-based check of the published API: whatever a client sends, never a 5xx.

Schemathesis generates requests from ``/api/v1/openapi.json`` and sends them to the app
in-process (ASGI), signed in as caseworker@demo-ngo, a few examples per operation. Only the
sign-in endpoint is left out: its rate limiter would turn the run into a test of itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok

from tests.web import hub_fixtures
from tests.web.hub_fixtures import Hub

hub_fixture = hub_fixtures.hub_fixture  # the "hub" fixture, used by name below

# About 30 operations at 6 examples each keep the run well under a minute.
EXAMPLES_PER_OPERATION = 6
SKIPPED = {("POST", "/api/v1/auth/token")}


def _no_server_error(operation: Any, headers: dict[str, str]) -> Callable[[], None]:
    @given(data=st.data())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(data: st.DataObject) -> None:
        case = data.draw(operation.as_strategy())
        # The generated case may carry its own Authorization; the token wins.
        response = case.call(headers=headers)
        case.validate_response(response, checks=[not_a_server_error])

    return run


def test_no_operation_answers_with_a_server_error(hub: Hub) -> None:
    token = hub.token_for("caseworker@demo-ngo")
    headers = {"Authorization": f"Bearer {token}"}
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", hub.app)
    operations = 0
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), "the published schema does not load"
        operation = result.ok()
        if (operation.method.upper(), operation.path) in SKIPPED:
            continue
        operations += 1
        _no_server_error(operation, headers)()
    assert operations >= 20
