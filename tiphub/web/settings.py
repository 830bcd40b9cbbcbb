"""How a hub instance runs: demo or production, cookie security, upload limits."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HubSettings:
    demo: bool = False
    # Cookies are Secure unless the hub is reached over plain HTTP on loopback (demo, tests).
    secure_cookies: bool = True
    max_upload_bytes: int = 20 * 1024 * 1024
    max_json_bytes: int = 1024 * 1024
    neutral_url: str = "https://www.wikipedia.org/"
    sign_in_attempts_per_minute: int = 10
