#!/usr/bin/env bash
# Resolver benchmark (not part of npm test): builds, then runs bench/resolver.ts, which starts named and
# `oedns serve` on loopback, drives both with dnsperf and writes docs/BENCHMARKS.md "## Resolver".
# Env: BENCH_NAMES (default 20000), BENCH_SECONDS (cache-hit run length, default 10).
set -euo pipefail
cd "$(dirname "$0")/.."
for t in dnsperf named dig taskset; do command -v "$t" >/dev/null || { echo "bench/resolver.sh: needs $t" >&2; exit 2; }; done
npx tsc -p tsconfig.json >/dev/null || true   # other modules' type errors must not stop the benchmark
node dist/bench/resolver.js
