#!/usr/bin/env bash
# The hardening checks CI runs after the test suite (see README, "Hardening"):
#   1. the whole test suite (but the Slurm suite) built with AddressSanitizer and UndefinedBehaviorSanitizer;
#   2. the single-rank C tests under Valgrind memcheck;
#   3. a short libFuzzer run of each fuzz target on its seed corpus (tests/fuzz/corpus).
# Each stage records its results as Meson-style JSON lines in build-*/meson-logs/, which
# scripts/test_summary.py adds up. Needs root or sudo only when packages are missing.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
FUZZ_SECONDS="${FUZZ_SECONDS:-45}"

missing=()
for p in clang libclang-rt-14-dev valgrind; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi
if [ "$(id -u)" -eq 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
status=0

# Not under the sanitizers: slurm and experiments (the same code paths, at scale), the kill test (a
# hundred restarts of the checkpoint and results code the io suite runs under them once each), and
# the bitwise tests of the reproducible mode on 1-4 and 8 ranks (suites bits, ranks8: 298 s and
# 402 s sanitized on a 2-core machine; test_model's bitwise checks on 1-4 ranks and
# test_checkpoint's elastic restarts run the same reproducible code under the sanitizers).
echo "hardening: sanitizers (ASan + UBSan), whole suite but slurm, experiments, the kill test and the bitwise tests"
# The sanitized build runs 2-3x slower than the release one: the timeouts are doubled.
[ -f build-asan/build.ninja ] ||
  meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
ninja -C build-asan >/dev/null || status=1
meson test -C build-asan --timeout-multiplier 2 --no-suite slurm --no-suite experiments --no-suite kill \
  --no-suite ranks8 --no-suite bits \
  --print-errorlogs || status=1

echo "hardening: valgrind memcheck, single-rank C tests"
meson test -C build --setup valgrind --print-errorlogs \
  config-np1 rng-np1 kernels-np1 model-np1 ntk-np1 || status=1

echo "hardening: libFuzzer, ${FUZZ_SECONDS} s per target"
[ -f build-fuzz/build.ninja ] ||
  CC=clang meson setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false \
    -Dsimd=v3 >/dev/null
ninja -C build-fuzz >/dev/null || status=1
log=build-fuzz/meson-logs/testlog-fuzz.json
mkdir -p build-fuzz/meson-logs build-fuzz/fuzz-work
: >"$log"
for t in config data inspect; do
  work="build-fuzz/fuzz-work/$t"
  rm -rf "$work" && mkdir -p "$work"
  # allocator_may_return_null: a huge malloc fails as in production (HDF5 checks it) instead of
  # being reported; exitcode=86 tells the data reader's crash probe a sanitizer report from a crash.
  if ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1:exitcode=86 \
    "build-fuzz/tests/fuzz/fuzz_$t" "$work" "tests/fuzz/corpus/$t" \
    -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=4096 -artifact_prefix="$work/" \
    >"$work.log" 2>&1; then
    result=OK
  else
    result=FAIL
    status=1
    tail -40 "$work.log"
  fi
  echo "fuzz_$t: $result ($(grep -o 'Done [0-9]* runs in [0-9]* second' "$work.log" || echo 'no summary'))"
  printf '{"name": "fuzz_%s", "result": "%s"}\n' "$t" "$result" >>"$log"
done
exit $status
