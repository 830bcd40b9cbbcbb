"""Overdue deadlines go to a webhook and by e-mail, naming cases by reference only."""

from __future__ import annotations

import datetime as dt
import json
import socketserver
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from tests.cases.test_nrm_workflow import CASEWORKER, ORG, _consent, _set_birth_date, _victim
from tests.web.hub_fixtures import Hub, hub_fixture  # noqa: F401
from tiphub.cases import workflows
from tiphub.cases.api import CaseStore
from tiphub.cases.notify import send_overdue


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()


@pytest.fixture
def smtp_sink() -> Iterator[tuple[str, list[str]]]:
    """A minimal SMTP server that keeps each message's DATA."""
    messages: list[str] = []

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            self.wfile.write(b"220 sink\r\n")
            while line := self.rfile.readline():
                command = line.strip().upper()
                if command.startswith((b"EHLO", b"HELO")):
                    self.wfile.write(b"250 sink\r\n")
                elif command == b"DATA":
                    self.wfile.write(b"354 go on\r\n")
                    body = []
                    while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                        body.append(chunk.decode("utf-8", "replace"))
                    messages.append("".join(body))
                    self.wfile.write(b"250 kept\r\n")
                elif command == b"QUIT":
                    self.wfile.write(b"221 bye\r\n")
                    return
                else:
                    self.wfile.write(b"250 ok\r\n")

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}", messages
    server.shutdown()
    server.server_close()


def test_overdue_decisions_are_sent_without_names(
    hub: Hub, webhook: tuple[str, list[dict[str, Any]]], smtp_sink: tuple[str, list[str]]
) -> None:
    case_id = hub.case_in_scope(ORG)
    _set_birth_date(hub, case_id, "1990-04-02")
    _consent(hub, case_id, True)
    referred = dt.date.today() - dt.timedelta(days=40)
    item = workflows.refer_to_mechanism(
        hub.engine,
        hub.principal(CASEWORKER),
        case_id,
        "uk-nrm",
        _victim(hub, case_id),
        {"on": referred.isoformat()},
    )
    url, received = webhook
    address, messages = smtp_sink
    supervisor = hub.principal(f"supervisor@{ORG}")
    report = send_overdue(
        hub.engine, supervisor, webhook=url, email_to="lead@example.org", smtp=address
    )
    assert report.sent_to == ["webhook", "email"]
    payload = received[0]
    mine = next(i for i in payload["overdue_referrals"] if i["reference"] == item.reference)
    assert (
        mine["stage"] == "referred" and mine["days_overdue"] == (dt.date.today() - item.due_on).days
    )
    assert mine["days_overdue"] > 0
    document = CaseStore(hub.engine).read(case_id, audited=False).document
    names = {
        value
        for participant in document["participants"]
        for key, value in participant["person"].items()
        if key in ("first_name", "family_name", "birth_date") and value
    }
    assert names, "the demo person has a name to leak"
    sent = json.dumps(payload) + "".join(messages)
    assert not [name for name in names if str(name) in sent]
    assert item.reference in messages[0]
