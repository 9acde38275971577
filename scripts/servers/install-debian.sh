#!/usr/bin/env bash
# Installs the Debian-packaged authorization servers the conformance and probe tests run for real
# (issue 14): Glewlwyd and LemonLDAP::NG, plus libfaketime to move a server's clock.
# Idempotent: packages already installed are left as they are. Needs root (or sudo) and apt-get.
# Nothing is started or enabled here: the tests start each server themselves, per test, on 127.0.0.1.
set -euo pipefail

PACKAGES=(
  glewlwyd                     # the Glewlwyd SSO server (C), its OIDC plugin and web-app files
  lemonldap-ng                 # LemonLDAP::NG portal, handler, manager (Perl)
  lemonldap-ng-fastcgi-server  # llng-fastcgi-server: the PSGI apps behind a FastCGI socket
  nginx-light                  # an HTTP front for llng-fastcgi-server on a free port
  faketime                     # libfaketime: the servers' clocks moved by the tests
  # LemonLDAP::NG's Recommends that a working OpenID Connect portal needs (installed without the rest of the
  # Recommends, which would bring Apache with mod_perl):
  libstring-random-perl        # the OpenID Connect issuer module
  libgd-securityimage-perl     # the captcha module, loaded at start-up even when captchas are off ...
  libimage-magick-perl         # ... and what it draws with
  libcrypt-openssl-bignum-perl # the portal's JWKS (modulus and exponent of its RSA signing key)
  libhttp-parser-xs-perl       # the FastCGI server's fast HTTP parsing
  libcookie-baker-xs-perl      # cookie parsing
  libio-string-perl libmime-tools-perl libemail-sender-perl libconvert-base32-perl libdigest-hmac-perl
)

die() { echo "install-debian.sh: $*" >&2; exit 1; }

command -v apt-get >/dev/null 2>&1 || die "apt-get not found: these servers are installed from Debian packages"
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || die "run as root (or install sudo): apt-get needs root"
  SUDO=(sudo)
fi

missing=()
for package in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$package")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-debian.sh: already installed: ${PACKAGES[*]}"
  exit 0
fi

echo "install-debian.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# Another apt-get on the machine holds the dpkg lock for a while: wait for it (bounded) instead of failing.
APT_GET=(apt-get -o DPkg::Lock::Timeout=600)
"${SUDO[@]}" "${APT_GET[@]}" update -qq >"$log" 2>&1 || { cat "$log" >&2; die "apt-get update failed"; }
# Glewlwyd's postinst would otherwise set up a system-wide database through dbconfig-common (PostgreSQL by
# default, which fails without a running PostgreSQL): the tests bring their own SQLite file and config.
"${SUDO[@]}" debconf-set-selections <<'SELECTIONS' || die "debconf-set-selections failed"
glewlwyd glewlwyd/config_type select No configuration
glewlwyd glewlwyd/dbconfig-install boolean false
SELECTIONS
# A package left half-configured by an earlier, interrupted run is configured again first.
"${SUDO[@]}" dpkg --configure -a >"$log" 2>&1 || { tail -n 40 "$log" >&2; die "dpkg --configure -a failed"; }
"${SUDO[@]}" "${APT_GET[@]}" install -y -qq --no-install-recommends "${missing[@]}" >"$log" 2>&1 \
  || { tail -n 40 "$log" >&2; die "apt-get install ${missing[*]} failed (log above)"; }
echo "install-debian.sh: installed ${missing[*]}"
