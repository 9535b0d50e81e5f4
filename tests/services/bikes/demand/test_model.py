"""The gradient-boosted model learns an hourly profile and never predicts negative counts."""

from __future__ import annotations

import numpy as np
import pytest

from citysmart.services.bikes.demand.model import ModelSettings, Target, fit_model


@pytest.mark.parametrize("target", list(Target))
def test_model_learns_profile_and_stays_non_negative(target: Target) -> None:
    rng = np.random.default_rng(3)
    hours = np.arange(24 * 40, dtype=np.int64)
    hour = (hours % 24).astype(np.float64)
    rate = 5 + 40 * np.exp(-((hour - 8) ** 2) / 4) + 30 * np.exp(-((hour - 18) ** 2) / 4)
    counts = rng.poisson(rate).astype(np.float64)
    counts[::50] = np.nan  # unknown hours are skipped, not read as zeros
    features = np.column_stack([hour, rng.normal(size=len(hour))])
    model = fit_model(features, counts, hours, ModelSettings(target=target, seeds=(0,)))
    predicted = model.predict(features[:24])
    assert (predicted >= 0).all()
    # The model's error against the true rate is well below the rate's own spread.
    assert np.sqrt(np.mean((predicted - rate[:24]) ** 2)) < 0.3 * rate[:24].std()


def test_model_needs_a_day_of_known_counts() -> None:
    with pytest.raises(ValueError, match="at least 24"):
        fit_model(np.zeros((10, 2)), np.ones(10), np.arange(10, dtype=np.int64))
