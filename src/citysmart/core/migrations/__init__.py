"""Alembic migrations of the citysmart schema."""
