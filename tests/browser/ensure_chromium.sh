#!/bin/sh
# Installs Debian's chromium for the browser tests when it is missing (idempotent; needs root).
# Playwright drives this system browser via executable_path; `playwright install` is never used.
set -eu
CHROMIUM=/usr/bin/chromium
if [ -x "$CHROMIUM" ]; then
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  echo "ensure_chromium: $CHROMIUM is missing and this is not root; the browser tests will be skipped" >&2
  exit 0
fi
echo "ensure_chromium: installing Debian's chromium for tests/browser"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
