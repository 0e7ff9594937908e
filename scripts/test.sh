#!/usr/bin/env bash
# Runs every check and test of the project: formatting, lints, the Rust test suite (unit
# tests, the storage conformance suite on SQLite and PostgreSQL, and the end-to-end tests
# that run the real binary), the web build (type check, bundle budgets) with its unit tests,
# and the browser tests in real Chromium. Starts or installs what the tests need first.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
    echo "test.sh: cargo is required (install Rust with rustup)" >&2
    exit 1
fi

NATTER_TEST_POSTGRES_URL=$(scripts/ensure-services.sh)
export NATTER_TEST_POSTGRES_URL
NATTER_TEST_GEOIP=$(scripts/test-data.sh)
export NATTER_TEST_GEOIP

mkdir -p target
failed=0

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== web: install, type check, bundle (with size budgets)"
(cd web && npm ci --no-audit --no-fund --loglevel=error && npm run build)
echo "== web: unit tests"
set +e
(cd web && npx vitest run) 2>&1 | tee target/web-test-output.log
[ "${PIPESTATUS[0]}" = 0 ] || failed=1
set -e

echo "== cargo test"
set +e
# A hung test must fail the run with its name on screen, not eat CI's whole time limit;
# every test binary runs even after one fails, so the summary counts everything.
timeout --signal=KILL 60m cargo test --workspace --locked --no-fail-fast 2>&1 | tee target/test-output.log
[ "${PIPESTATUS[0]}" = 0 ] || failed=1
set -e

echo "== browser tests (Chromium)"
set +e
(cd web && node --test --test-concurrency=1 --test-timeout=300000 e2e/) 2>&1 | tee target/e2e-output.log
[ "${PIPESTATUS[0]}" = 0 ] || failed=1
set -e

# One closing line per suite, then one for the whole run (cargo prints one line per test
# binary, the last of which is often an empty doc-test run).
rust=$(awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed;?$/) p += $(i-1); if ($(i) ~ /^failed;?$/) f += $(i-1) } }
     END { printf "%d %d", p, f }' target/test-output.log)
web=$(sed 's/\x1b\[[0-9;]*m//g' target/web-test-output.log | awk '/^ *Tests +/ { for (i = 1; i <= NF; i++) { if ($(i) == "passed") p += $(i-1); if ($(i) == "failed") f += $(i-1) } }
     END { printf "%d %d", p, f }')
e2e=$(awk '/^# pass / { p += $3 } /^# fail / { f += $3 } END { printf "%d %d", p, f }' target/e2e-output.log)
read -r rp rf <<<"$rust"
read -r wp wf <<<"$web"
read -r ep ef <<<"$e2e"
echo "rust: $rp passed, $rf failed"
echo "web unit: $wp passed, $wf failed"
echo "browser: $ep passed, $ef failed"
echo "total: $((rp + wp + ep)) passed, $((rf + wf + ef)) failed"
exit "$failed"
