#!/usr/bin/env bash
# Runs every check and test of the project: formatting, lints, and the Rust test suite
# (unit tests, the storage conformance suite on SQLite and PostgreSQL, and the end-to-end
# tests that run the real binary). Starts or installs what the tests need first.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
    echo "test.sh: cargo is required (install Rust with rustup)" >&2
    exit 1
fi

NATTER_TEST_POSTGRES_URL=$(scripts/ensure-services.sh)
export NATTER_TEST_POSTGRES_URL

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test"
mkdir -p target
set +e
cargo test --workspace --locked 2>&1 | tee target/test-output.log
status=${PIPESTATUS[0]}
set -e
# One closing line for the whole run (cargo prints one per test binary, the last of which is
# often an empty doc-test run).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed;?$/) p += $(i-1); if ($(i) ~ /^failed;?$/) f += $(i-1) } }
     END { printf "rust: %d passed, %d failed\n", p, f }' target/test-output.log
exit "$status"
