"""Demand forecasts of pickups and returns: features, models and their evaluation."""
