#!/usr/bin/env bash
# Debian's chromium (driven by Playwright through its executable path) and CJK fonts for the web
# page test; Playwright's own browser download is never used (no machine here reaches its host).
set -euo pipefail
if [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -qi "noto sans cjk"; then
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null
fi
