#!/usr/bin/env bash
# Fetches third-party test data that the repository must not carry, and prints where it is.
#
# GeoIP: MaxMind's official test database `GeoIP2-City-Test.mmdb` (81.2.69.142 → London, GB).
# It ships inside the source archive of the `maxminddb` package on the Python package index,
# which is reachable from every machine this project runs on; pip downloads it by name and
# checks its hash against the index. The natter-visitor tests read it from
# target/test-data/GeoIP2-City-Test.mmdb (or from $NATTER_TEST_GEOIP).
#
# Idempotent: a file that is already there is kept.
set -euo pipefail
cd "$(dirname "$0")/.."

MAXMINDDB_VERSION=3.2.0
dest_dir=target/test-data
dest=$dest_dir/GeoIP2-City-Test.mmdb

if [[ ! -s $dest ]]; then
    if ! command -v python3 >/dev/null 2>&1 || ! python3 -m pip --version >/dev/null 2>&1; then
        echo "test-data.sh: installing python3-pip" >&2
        if [[ $(id -u) -eq 0 ]]; then sudo= ; else sudo=sudo; fi
        $sudo apt-get update >&2
        $sudo apt-get install -y python3-pip >&2
    fi
    mkdir -p "$dest_dir"
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    # --no-binary: the wheels carry only the library; the test databases are in the sdist.
    python3 -m pip download --quiet --disable-pip-version-check --no-deps \
        --no-binary :all: "maxminddb==$MAXMINDDB_VERSION" -d "$work" >&2
    archive=$(find "$work" -maxdepth 1 -name "maxminddb-$MAXMINDDB_VERSION.tar.gz" | head -n 1)
    if [[ -z $archive ]]; then
        echo "test-data.sh: pip did not produce maxminddb-$MAXMINDDB_VERSION.tar.gz" >&2
        exit 1
    fi
    member=maxminddb-$MAXMINDDB_VERSION/tests/data/test-data/GeoIP2-City-Test.mmdb
    tar -xzf "$archive" -C "$work" "$member"
    # Move into place in one step so an interrupted run never leaves a partial file behind.
    cp "$work/$member" "$dest.tmp"
    mv "$dest.tmp" "$dest"
fi

echo "$(pwd)/$dest"
