#!/usr/bin/env bash
# Installs the two authorization servers of the conformance suite that come from PyPI and npm, and the
# clock they run under (issue 14):
#   - django-oauth-toolkit 3.x into the project's venv (the `conformance` extra of pyproject.toml);
#   - node oidc-provider 9.x into tests/servers/oidc_provider/node_modules (`npm ci`, from the committed
#     package-lock.json);
#   - libfaketime (Debian package `faketime`), which moves a server's clock forward during a test.
# Idempotent: each step is skipped when what it installs is already there. Needs root for apt-get
# (as on CI and the developers' machines) unless libfaketime is already installed.
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV="${VENV:-.venv}"

if ! ls /usr/lib/*/faketime/libfaketimeMT.so.1 >/dev/null 2>&1; then
  echo "installing libfaketime (Debian package faketime)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq faketime >/dev/null
fi

if [ ! -f "$VENV/.installed-conformance" ] || [ pyproject.toml -nt "$VENV/.installed-conformance" ]; then
  echo "installing django-oauth-toolkit into $VENV (extra: conformance)"
  "$VENV/bin/python" -m pip install --quiet -e '.[dev,conformance]'
  touch "$VENV/.installed-conformance"
fi

NODE_DIR=tests/servers/oidc_provider
if ! command -v node >/dev/null 2>&1; then
  echo "node (>= 20.19) is needed for oidc-provider; install Node.js first" >&2
  exit 1
fi
if [ ! -d "$NODE_DIR/node_modules/oidc-provider" ] || [ "$NODE_DIR/package-lock.json" -nt "$NODE_DIR/node_modules/.package-lock.json" ]; then
  echo "installing oidc-provider (npm ci in $NODE_DIR)"
  (cd "$NODE_DIR" && npm ci --no-audit --no-fund --loglevel=error)
fi
echo "servers ready: django-oauth-toolkit $("$VENV/bin/python" -c 'import oauth2_provider; print(oauth2_provider.__version__)'), oidc-provider $(node -p "require('./$NODE_DIR/node_modules/oidc-provider/package.json').version")"
