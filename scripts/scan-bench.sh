#!/usr/bin/env bash
# Whole-corpus timing of `gitops-bridge scan` (release build, offline): 10 runs, whole
# process, wall and max RSS per run. Usage: scripts/scan-bench.sh [corpus dir] [runs]
set -euo pipefail
corpus=${1:-/work/shared/corpus}
runs=${2:-10}
bin=${CARGO_TARGET_DIR:-target}/release/gitops-bridge
[ -x "$bin" ] || cargo build --release
scan_all() { for d in "$corpus"/*/; do "$bin" scan "$d" --format json >/dev/null || [ $? -eq 1 ]; done; }
scan_all # warm the page cache
for i in $(seq "$runs"); do
  /usr/bin/time -f "%e s wall, %U s user, %S s sys, %M KiB max RSS" bash -c "$(declare -f scan_all); bin=$bin corpus=$corpus scan_all" 2>&1
done
