#!/usr/bin/env bash
# Install Debian's chromium for the Playwright tests (Playwright's own browser download
# is not used: the tests launch /usr/bin/chromium), and a Korean font for its pages.
set -euo pipefail
if [ -x /usr/bin/chromium ] && dpkg -s fonts-nanum >/dev/null 2>&1; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "chromium is missing: install Debian's chromium package" >&2; exit 1; }
  SUDO="sudo"
fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium fonts-nanum >/dev/null
echo "installed $(/usr/bin/chromium --version)"
