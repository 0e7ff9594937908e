#!/usr/bin/env bash
# Runs the benchmark suite (`make bench`): builds natter and natter-bench in release mode,
# runs every scenario on SQLite and on PostgreSQL with the server pinned to CPU 0 and the
# load generator to CPU 1, and writes the figures into docs/benchmarks.md (between its
# generated-part markers; the text around them is kept). JSON results go to target/bench/.
#
# Takes a while (about half an hour per backend: 18,000 idle connections, a 10M-message
# store). Extra arguments go to `natter-bench all`, e.g. --history-messages 1000000.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(nproc)" -lt 2 ]; then
    echo "bench.sh: needs at least 2 CPUs (server on one, load on another)" >&2
    exit 1
fi

NATTER_TEST_POSTGRES_URL=$(scripts/ensure-services.sh)
export NATTER_TEST_POSTGRES_URL
# Cross-node delivery needs Redis on 127.0.0.1:6379; without it that scenario is skipped.
if ! (command -v redis-cli >/dev/null && redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1); then
    echo "bench.sh: Redis does not answer on 127.0.0.1:6379; the cross-node scenario will be skipped" >&2
fi

cargo build --release --locked -p natter-server -p natter-bench

stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=target/bench
mkdir -p "$out"
status=0
for backend in sqlite postgres; do
    json="$out/$backend-all-$stamp.json"
    echo "== natter-bench all --backend $backend → $json"
    taskset -c 1 target/release/natter-bench --backend "$backend" --server-cpus 0 \
        --out "$json" all "$@" || status=1
done
target/release/natter-bench report --markdown docs/benchmarks.md \
    "$out/sqlite-all-$stamp.json" "$out/postgres-all-$stamp.json"
echo "== wrote docs/benchmarks.md"
exit $status
