#!/usr/bin/env bash
# Builds the web assets and natter, and runs it on SQLite in ./data (created on first start, which also prints a
# first admin token). Extra arguments go to `natter serve`, e.g. --listen 0.0.0.0:8080.
set -euo pipefail
cd "$(dirname "$0")/.."
# The widget (and its loader) are built first: natter serves them from web/dist.
if command -v npm >/dev/null 2>&1; then
    (cd web && npm ci --no-audit --no-fund --loglevel=error && npm run build)
else
    echo "run.sh: npm not found; the widget will not be served (install Node.js 20+)" >&2
fi
cargo build --release --locked --bin natter
exec ./target/release/natter --data-dir ./data serve "$@"
