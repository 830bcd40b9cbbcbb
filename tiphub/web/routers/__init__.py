"""Every router of the hub, one per resource, and the prefix it is mounted at."""

from __future__ import annotations

from fastapi import APIRouter

from tiphub.web.routers import (
    api_audit,
    api_auth,
    api_cases,
    api_exchange,
    api_health,
    api_online,
    api_referrals,
    api_screening,
    api_statistics,
    api_users,
    pages_admin,
    pages_audit,
    pages_auth,
    pages_cases,
    pages_imports,
    pages_online,
    pages_referrals,
    pages_review,
    pages_screening,
    pages_services,
    pages_statistics,
)

API = "/api/v1"
ROUTERS: list[tuple[APIRouter, str]] = [
    (api_health.router, API),
    (api_auth.router, API),
    (api_cases.router, API),
    (api_referrals.router, API),
    (api_screening.router, API),
    (api_exchange.router, API),
    (api_audit.router, API),
    (api_users.router, API),
    (api_statistics.router, API),
    (api_online.router, API),
    (pages_auth.router, ""),
    (pages_cases.router, ""),
    (pages_referrals.router, ""),
    (pages_screening.router, ""),
    (pages_services.router, ""),
    (pages_imports.router, ""),
    (pages_review.router, ""),
    (pages_online.router, ""),
    (pages_statistics.router, ""),
    (pages_audit.router, ""),
    (pages_admin.router, ""),
]
