"""Locust users for ``bench/hub_load.py``: browse the case list and open cases, at a held rate.

Run by ``hub_load.py`` (which signs the demo users in beforehand, so the sign-in rate limiter
is never hit, and passes their tokens in a private JSON file named by
``TIPHUB_BENCH_SESSIONS``)::

    locust -f bench/hub_locustfile.py --headless -u 50 -r 50 -t 60s --host http://127.0.0.1:PORT

Every task is exactly one request and every user runs one per period (users/rate seconds),
so the total arrival rate is ``rate`` requests/s however fast the server answers (never
more; less only if a user's requests take longer than a period). Each user starts at a
random point of its period, so that the requests arrive as a steady stream.
"""

from __future__ import annotations

import json
import os
import random
import time
from itertools import count
from pathlib import Path
from typing import Any

import gevent
from locust import FastHttpUser, task

SESSIONS_VARIABLE = "TIPHUB_BENCH_SESSIONS"
PAGE_SIZE = 25
# Ids remembered per user: enough to spread reads over several pages, bounded in memory.
KNOWN_IDS_KEPT = 500
LIST_NAME = "/api/v1/cases?limit=25"
NEXT_NAME = "/api/v1/cases?…&cursor="
READ_NAME = "/api/v1/cases/{id}"
PAGE_NAME = "/cases/{id} (HTML)"


def _load_sessions() -> dict[str, Any]:
    path = os.environ.get(SESSIONS_VARIABLE)
    if not path:
        raise SystemExit(f"{SESSIONS_VARIABLE} is not set; run bench/hub_load.py instead")
    sessions: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
    return sessions


SESSIONS = _load_sessions()
PER_USER_RATE = SESSIONS["rate"] / SESSIONS["users"]
HTML_PAGES = bool(SESSIONS["html"])
_next_user = count()


class CaseworkerBrowsing(FastHttpUser):
    """One person at the hub: lists cases, sometimes pages on, opens cases seen in the list."""

    def wait_time(self) -> float:
        """Until this user's next slot: one request per period, each user at its own phase,
        never catching up with a burst after a slow answer."""
        now = time.perf_counter()
        self.next_start = max(self.next_start + 1 / PER_USER_RATE, now)
        return self.next_start - now

    def on_start(self) -> None:
        accounts = SESSIONS["accounts"]
        account = accounts[next(_next_user) % len(accounts)]
        self.api_headers = {
            "Authorization": f"Bearer {account['token']}",
            "Accept": "application/json",
        }
        session = account.get("session")
        self.page_headers = {"Cookie": f"tiphub_session={session}"} if session else None
        self.known_ids: list[str] = []
        self.next_cursor: str | None = None
        # Users all start at once: without a phase of its own each, the "rate" arrives as
        # one burst of every user's request per period (50 at once, 4 times a second)
        # rather than as a steady stream. (Locust's constant_throughput re-aligns every user
        # to its start, whatever the user sleeps here.)
        gevent.sleep(random.uniform(0, 1 / PER_USER_RATE))
        self.next_start = time.perf_counter()

    def _list(self, cursor: str | None) -> None:
        path = f"/api/v1/cases?limit={PAGE_SIZE}" + (f"&cursor={cursor}" if cursor else "")
        with self.client.get(
            path,
            headers=self.api_headers,
            name=NEXT_NAME if cursor else LIST_NAME,
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}")
                return
            body = response.json()
            self.known_ids.extend(item["id"] for item in body["items"])
            del self.known_ids[:-KNOWN_IDS_KEPT]
            self.next_cursor = body["next_cursor"]

    @task(35)
    def case_list(self) -> None:
        self._list(None)

    @task(15)
    def next_page(self) -> None:
        self._list(self.next_cursor)

    @task(30)
    def case_json(self) -> None:
        if not self.known_ids:
            self._list(None)
            return
        case_id = random.choice(self.known_ids)
        with self.client.get(
            f"/api/v1/cases/{case_id}",
            headers=self.api_headers,
            name=READ_NAME,
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}")

    @task(20)
    def case_page(self) -> None:
        if not HTML_PAGES or self.page_headers is None:
            self.case_json()
            return
        if not self.known_ids:
            self._list(None)
            return
        case_id = random.choice(self.known_ids)
        with self.client.get(
            f"/cases/{case_id}",
            headers=self.page_headers,
            name=PAGE_NAME,
            catch_response=True,
            allow_redirects=False,
        ) as response:
            # A redirect here means the session was not accepted: count it as a failure.
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}")
