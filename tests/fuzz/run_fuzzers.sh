#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs ropescale's libFuzzer targets for a bounded time each; used by .ci/run and by hand.
#   tests/fuzz/run_fuzzers.sh BUILD_DIR [SECONDS_EACH=60] [TARGET...]   (TARGET: config, safetensors, cli_args, apply_args, gguf)
# BUILD_DIR is a clang build configured with -DROPESCALE_BUILD_FUZZ=ON and the target
# ropescale_fuzzers built. Seeds: tests/fuzz/corpus/<target>, tests/fuzz/regressions/<target>
# (and examples/configs for config); new inputs go to BUILD_DIR/fuzz-work/<target>/corpus, never
# into the source tree. Exit status 1 if any fuzzer found a crash, leak, timeout or OOM; the
# input is in BUILD_DIR/fuzz-work/<target>/artifacts/ (copy it to tests/fuzz/regressions/<target>/).
# The limits are the resource budget of docs/limits.md: a unit slower than 10 s or a process above
# 1 GiB RSS (or one malloc above it) is reported by libFuzzer and fails the run.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "${1:?usage: run_fuzzers.sh BUILD_DIR [SECONDS_EACH] [TARGET...]}" && pwd)
seconds=${2:-60}
shift $(($# >= 2 ? 2 : 1))
targets=("$@")
if ((${#targets[@]} == 0)); then
  for src in "$here"/fuzz_*.cpp; do
    t=$(basename "$src" .cpp)
    targets+=("${t#fuzz_}")
  done
fi

status=0
for t in "${targets[@]}"; do
  bin=$build/tests/fuzz/fuzz_$t
  work=$build/fuzz-work/$t
  mkdir -p "$work/corpus" "$work/artifacts"
  seeds=("$here/corpus/$t" "$here/regressions/$t")
  [[ $t == config ]] && seeds+=("$root/examples/configs")
  extra=()
  [[ -f $here/$t.dict ]] && extra+=("-dict=$here/$t.dict")
  if [[ ! -x $bin ]]; then
    echo "fuzz_$t: binary $bin missing (build target ropescale_fuzzers)"
    status=1
    continue
  fi
  existing=()
  for d in "${seeds[@]}"; do [[ -d $d ]] && existing+=("$d"); done
  start=$SECONDS
  "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=1024 -max_len=65536 \
    -print_final_stats=1 -artifact_prefix="$work/artifacts/" "${extra[@]}" \
    "$work/corpus" "${existing[@]}" >"$work/log.txt" 2>&1
  rc=$?
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/log.txt" | grep -o '[0-9]*$' | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$work/log.txt" | tail -1)
  if ((rc != 0)); then
    status=1
    echo "fuzz_$t: FAILED (exit $rc) after $((SECONDS - start)) s; log $work/log.txt; artifacts:"
    ls -1 "$work/artifacts" | sed 's/^/    /'
    grep -m1 -B2 -A25 -E '==ERROR|ERROR: libFuzzer|runtime error|deadly signal|terminate called' \
      "$work/log.txt" | head -60
  else
    echo "fuzz_$t: ok, ${execs:-?} executions in $((SECONDS - start)) s (${cov:-cov: ?}, corpus $(ls "$work/corpus" | wc -l) new files)"
  fi
done
exit $status
