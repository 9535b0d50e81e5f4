"""Truck rebalancing: target inventories, signed demands and truck routes."""
