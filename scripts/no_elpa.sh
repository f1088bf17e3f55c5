#!/usr/bin/env bash
# softntk without ELPA: configured with `-Delpa=disabled`, built, and the unit and mpi suites plus the
# CLI test run (ntk.solver = elpa must then be a clear input error, auto must take ScaLAPACK).
#   scripts/no_elpa.sh [BUILD_DIR]      (default build-noelpa)
# Prints `N passed, M failed, K skipped` for this stage; exit status that of meson test.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
dir="${1:-build-noelpa}"
if [ "$(id -u)" -eq 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
[ -f "$dir/build.ninja" ] || meson setup "$dir" -Delpa=disabled >/dev/null || exit 1
ninja -C "$dir" >/dev/null || exit 1
if nm -D "$dir/libsoftntk.so" | grep -q " U elpa_"; then
  echo "no_elpa: $dir links ELPA although configured with -Delpa=disabled" >&2
  exit 1
fi
status=0
meson test -C "$dir" --suite unit --suite mpi --print-errorlogs || status=$?
meson test -C "$dir" cli --logbase testlog-cli --print-errorlogs || status=$?
/usr/bin/python3 scripts/test_summary.py "$dir/meson-logs/testlog.json" \
  "$dir/meson-logs/testlog-cli.json"
exit $status
