"""Participant roles that count as victims, apart from the schema so that commands which
only count (``tiphub summary``, ``tiphub cases list``) need not build the pydantic models."""

from __future__ import annotations

VICTIM_ROLES = frozenset({"Victim", "PresumedVictim"})
