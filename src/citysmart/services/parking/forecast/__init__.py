"""Free-space forecasts per car park, +15 min to +3 h, with 80% prediction intervals."""
