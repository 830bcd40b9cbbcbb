"""Liveness: answers without a database round trip beyond the pool's check."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from tiphub.web.security import public

router = APIRouter(tags=["health"])


@router.get("/health")
async def health(_: Annotated[None, Depends(public())]) -> dict[str, str]:
    return {"status": "ok"}
