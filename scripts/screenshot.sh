#!/usr/bin/env bash
# Screenshot a report page as a person sees it: Debian's Chromium, headless, a tall window.
# Usage: scripts/screenshot.sh REPORT.html OUT.png [WIDTHxHEIGHT]   (installs chromium when missing)
set -euo pipefail
page=$(realpath "$1"); out=$2; size=${3:-1400,4000}
if ! command -v chromium >/dev/null 2>&1; then
  echo "screenshot.sh: installing Debian's chromium" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync --user-data-dir="$profile" \
  --hide-scrollbars --window-size="$size" --screenshot="$out" "file://$page" >/dev/null 2>&1
echo "$out"
