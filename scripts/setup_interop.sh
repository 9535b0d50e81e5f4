#!/bin/sh
# A separate virtual environment for ngsildclient, the third-party NGSI-LD client the
# interoperability tests drive: it pins an httpx older than the hub's, so it cannot share
# the hub's environment.
set -eu
VENV=.venv-interop
VERSION=0.5.2
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import ngsildclient" 2>/dev/null; then
    exit 0
fi
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --upgrade pip
"$VENV/bin/pip" install --quiet "ngsildclient==$VERSION"
