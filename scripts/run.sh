#!/usr/bin/env bash
# Builds natter and runs it on SQLite in ./data (created on first start, which also prints a
# first admin token). Extra arguments go to `natter serve`, e.g. --listen 0.0.0.0:8080.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked --bin natter
exec ./target/release/natter --data-dir ./data serve "$@"
