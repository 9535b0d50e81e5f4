#!/usr/bin/env bash
# Install PostGIS for the local PostgreSQL the tests use, so that NGSI-LD geo-queries are
# tested both through PostGIS and through the hub's own spherical computation (SQLite, and
# PostgreSQL databases without the extension). Skipped when the server is not local.
set -euo pipefail
PG_URL="${CITYSMART_TEST_POSTGRES_URL:-postgresql://postgres@127.0.0.1:5432/test}"
case "$PG_URL" in
  *@127.0.0.1:*|*@localhost:*|*@/*) ;;
  *) echo "PostgreSQL is not local: PostGIS not installed by this script"; exit 0 ;;
esac
command -v pg_config >/dev/null || command -v psql >/dev/null || exit 0
major="$(ls /etc/postgresql 2>/dev/null | sort -n | tail -n1)"
[ -n "$major" ] || { echo "no local PostgreSQL cluster: PostGIS not installed"; exit 0; }
package="postgresql-${major}-postgis-3"
if dpkg -s "$package" >/dev/null 2>&1; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install $package for the PostGIS tests" >&2; exit 1; }
  SUDO="sudo"
fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$package" >/dev/null
echo "installed $package"
