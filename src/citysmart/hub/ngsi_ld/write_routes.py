"""NGSI-LD write routes (being written; see docs/ngsi-ld.md)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
