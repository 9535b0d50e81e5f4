"""Proposals, supports, votes and the follow-up of accepted proposals."""

from __future__ import annotations
