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
cargo test --workspace --locked
