#!/usr/bin/env bash
# Makes sure what the test suite talks to is there: PostgreSQL running on 127.0.0.1:5432 (the
# shared database server of the tests), the PostgreSQL server binaries (cluster tests start
# private clusters to restart them), and redis-server (cluster tests start private Redis
# servers to stop them), openssl (TLS tests), Node.js with npm (the SSO tests' OpenID
# provider, the web build and its tests), Chromium (browser tests) and pip (test data). On the project's machines all are installed; on a fresh Debian machine this
# installs and starts them. Prints the PostgreSQL URL the tests should use.
set -euo pipefail

log() { echo "ensure-services: $*" >&2; }

apt_updated=0
apt_install() {
    if [ "$apt_updated" = 0 ]; then
        log "apt-get update"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
        apt_updated=1
    fi
    log "installing $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
}

pg_ready() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }

if ! command -v redis-server >/dev/null 2>&1; then
    apt_install redis-server
fi
# The TLS tests make throwaway certificates with openssl.
if ! command -v openssl >/dev/null 2>&1; then
    apt_install openssl
fi
# The SSO tests run a real OpenID provider (the npm package oidc-provider) on Node.js.
if ! command -v npm >/dev/null 2>&1; then
    apt_install nodejs npm
fi

# The browser tests drive Debian's Chromium with playwright-core (a downloaded browser build
# cannot be fetched here).
if [ ! -x /usr/bin/chromium ]; then
    apt_install chromium
fi
# The GeoIP tests read MaxMind's test database from PyPI's maxminddb source archive.
if ! python3 -m pip --version >/dev/null 2>&1; then
    apt_install python3-pip
fi

if [ -n "${NATTER_TEST_POSTGRES_URL:-}" ]; then
    echo "$NATTER_TEST_POSTGRES_URL"
    exit 0
fi

installed_here=0
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    apt_install postgresql
    installed_here=1
fi
if ! pg_ready; then
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    log "starting PostgreSQL $version"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start >&2 || true
    for _ in $(seq 1 30); do pg_ready && break; sleep 1; done
fi
pg_ready || { log "PostgreSQL does not answer on 127.0.0.1:5432"; exit 1; }

# The project's machines trust local connections. A PostgreSQL installed just now asks for a
# password instead: give the postgres role a test password and use it.
if psql -h 127.0.0.1 -U postgres -d postgres -w -Atc 'select 1' >/dev/null 2>&1; then
    echo "postgres://postgres@127.0.0.1:5432/postgres"
else
    if [ "$installed_here" = 1 ] || su postgres -c "psql -Atc 'select 1'" >/dev/null 2>&1; then
        su postgres -c "psql -qc \"alter role postgres password 'natter-test'\"" >&2
        echo "postgres://postgres:natter-test@127.0.0.1:5432/postgres"
    else
        log "cannot log in to PostgreSQL as postgres; set NATTER_TEST_POSTGRES_URL"
        exit 1
    fi
fi
