#!/bin/sh
# Run a C test on N ranks: mpirun -np N [$SNTK_TEST_WRAPPER] TEST. The wrapper (for example valgrind)
# runs each rank, not mpirun.
n="$1"
exe="$2"
shift 2
case "$exe" in */*) ;; *) exe="./$exe" ;; esac
# shellcheck disable=SC2086 # the wrapper is a command line
exec mpirun -np "$n" $SNTK_TEST_WRAPPER "$exe" "$@"
