"""OpenID Connect endpoints: discovery, keys, authorize, token, userinfo."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
