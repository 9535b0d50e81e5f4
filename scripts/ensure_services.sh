#!/usr/bin/env bash
# Make sure the PostgreSQL and Mosquitto the tests use are up, starting them when they are
# installed but stopped. The tests read CITYSMART_TEST_POSTGRES_URL / CITYSMART_TEST_MQTT_URL.
set -euo pipefail
PG_URL="${CITYSMART_TEST_POSTGRES_URL:-postgresql://postgres@127.0.0.1:5432/test}"
MQTT_URL="${CITYSMART_TEST_MQTT_URL:-mqtt://127.0.0.1:1883}"
mqtt_hostport="${MQTT_URL#*://}"; mqtt_hostport="${mqtt_hostport##*@}"
MQTT_HOST="${mqtt_hostport%%:*}"; MQTT_PORT="${mqtt_hostport##*:}"

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

if ! pg_isready -q -d "$PG_URL" 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null; then
    echo "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
  for _ in $(seq 1 30); do pg_isready -q -d "$PG_URL" && break; sleep 1; done
fi
pg_isready -q -d "$PG_URL" || { echo "PostgreSQL is not reachable at $PG_URL" >&2; exit 1; }

if ! port_open "$MQTT_HOST" "$MQTT_PORT"; then
  if command -v mosquitto >/dev/null; then
    echo "starting Mosquitto"
    mosquitto -d -c /etc/mosquitto/mosquitto.conf || true
  fi
  for _ in $(seq 1 30); do port_open "$MQTT_HOST" "$MQTT_PORT" && break; sleep 1; done
fi
port_open "$MQTT_HOST" "$MQTT_PORT" || { echo "Mosquitto is not reachable at $MQTT_URL" >&2; exit 1; }
echo "PostgreSQL ($PG_URL) and Mosquitto ($MQTT_URL) are up"
