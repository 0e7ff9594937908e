# The two commands: `make run` and `make test`. Everything else is a convenience.
.PHONY: run test build fmt lint bench

run:
	scripts/run.sh

test:
	scripts/test.sh

build:
	cargo build --release --locked

fmt:
	cargo fmt --all

lint:
	cargo clippy --workspace --all-targets -- -D warnings

# The benchmark suite (slow; see docs/benchmarks.md).
bench:
	scripts/bench.sh
