#!/usr/bin/env bash
# softntk set-up and entry point of the README's quick start.
#   scripts/bootstrap.sh demo   install what is missing, build, run the default job on 2 ranks
#   scripts/bootstrap.sh test   install what is missing, build, run the whole test suite
# Needs root or sudo only when Debian packages are missing. The build goes to ./build.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(git meson ninja-build pkg-config gcc libopenmpi-dev openmpi-bin libscalapack-openmpi-dev
  libhdf5-openmpi-dev hdf5-tools libopenblas-dev liblapacke-dev libinih-dev librandom123-dev
  libelpa-dev
  python3 python3-numpy python3-h5py python3-matplotlib python3-scipy python3-mpmath
  chromium fonts-dejavu-core)

install_missing() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "bootstrap: installing ${missing[*]}"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
}

build() {
  if [ ! -f build/build.ninja ]; then
    meson setup build >/dev/null
  fi
  ninja -C build >/dev/null
  echo "bootstrap: built build/softntk ($(build/softntk --version))"
}

# Open MPI refuses to run as root without these; tests and the demo may oversubscribe the cores.
if [ "$(id -u)" -eq 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
export OMPI_MCA_rmaps_base_oversubscribe=1

case "${1:-}" in
  demo)
    install_missing
    build
    export OPENBLAS_NUM_THREADS=1
    mpirun -np 2 build/softntk train experiments/quickstart.ini
    ;;
  test)
    install_missing
    build
    status=0
    meson test -C build --print-errorlogs || status=$?
    /usr/bin/python3 scripts/test_summary.py build/meson-logs/testlog.json
    exit $status
    ;;
  *)
    echo "usage: scripts/bootstrap.sh demo|test" >&2
    exit 2
    ;;
esac
