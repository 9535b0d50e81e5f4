"""Surveys and participatory budgets."""

from __future__ import annotations
