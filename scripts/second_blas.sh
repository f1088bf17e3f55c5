#!/usr/bin/env bash
# The numerical suites (unit, mpi, io but its file-handling tests, suite files) against a second
# BLAS: softntk built with `-Dblas=generic` (linked to libblas.so.3 / liblapack.so.3) and run with
# the loader path set to Debian's reference BLAS and LAPACK (netlib), so that every BLAS and LAPACK
# call, ScaLAPACK's included, takes other kernels and other summation orders than OpenBLAS. A
# tolerance tuned to one BLAS fails here.
#   scripts/second_blas.sh [BUILD_DIR]      (default build-refblas)
# Prints `N passed, M failed, K skipped` for this stage; exit status that of meson test.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
dir="${1:-build-refblas}"
arch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
ref="/usr/lib/$arch/blas:/usr/lib/$arch/lapack"

missing=()
for p in libblas3 liblapack3 libblas-dev liblapack-dev; do
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

[ -f "$dir/build.ninja" ] || meson setup "$dir" -Dblas=generic >/dev/null || exit 1
ninja -C "$dir" >/dev/null || exit 1
blas=$(LD_LIBRARY_PATH="$ref" "$dir/softntk" --version | sed -n 's/^BLAS: //p')
echo "second BLAS: $blas"
case "$blas" in
  "reference BLAS"*) ;;
  *) echo "second BLAS: expected the reference BLAS from $ref, got: $blas" >&2; exit 1 ;;
esac
status=0
LD_LIBRARY_PATH="$ref" meson test -C "$dir" --suite unit --suite mpi --suite io --no-suite files \
  --print-errorlogs ||
  status=$?
/usr/bin/python3 scripts/test_summary.py "$dir/meson-logs/testlog.json"
exit $status
