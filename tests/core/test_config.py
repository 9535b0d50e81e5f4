"""Settings: safe embedded defaults, and no production start with a default secret."""

from __future__ import annotations

import pytest

from citysmart.core.config import DEFAULT_SECRET_KEY, InsecureSettingsError, Settings


def test_defaults_are_the_embedded_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CITYSMART_DATABASE_URL", "CITYSMART_MQTT_URL", "CITYSMART_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.database_url == "sqlite:///var/citysmart.db"
    assert settings.embedded_mqtt
    assert settings.effective_mqtt_url.startswith("mqtt://127.0.0.1:")
    settings.check_production()  # development: the default secret is fine


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYSMART_DATABASE_URL", "postgresql://db/city")
    monkeypatch.setenv("CITYSMART_MQTT_URL", "mqtt://broker:1883")
    monkeypatch.setenv("CITYSMART_MAX_CLOCK_SKEW_S", "30")
    settings = Settings()
    assert settings.database_url == "postgresql://db/city"
    assert not settings.embedded_mqtt
    assert settings.effective_mqtt_url == "mqtt://broker:1883"
    assert settings.max_clock_skew_s == 30


@pytest.mark.parametrize("secret", [DEFAULT_SECRET_KEY, "short"])
def test_production_refuses_a_default_or_weak_secret(secret: str) -> None:
    settings = Settings(environment="production", secret_key=secret)
    with pytest.raises(InsecureSettingsError, match="CITYSMART_SECRET_KEY"):
        settings.check_production()


def test_production_starts_with_a_real_secret() -> None:
    Settings(environment="production", secret_key="x" * 48).check_production()


def test_the_app_refuses_to_build_in_production_with_the_default_secret() -> None:
    from citysmart.portal.app import create_app

    with pytest.raises(InsecureSettingsError):
        create_app(Settings(environment="production", database_url="sqlite://"), services=[])
