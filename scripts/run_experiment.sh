#!/bin/bash
# scripts/run_experiment.sh: run an experiment of experiments/ on this machine, without Slurm: every
# line of its sweep file one after the other through mpirun, then its analysis script. The same
# experiment directory is what slurm/experiment.sh submits to a cluster (slurm/README.md, section 5).
#
# usage: scripts/run_experiment.sh [--clean] [--publish] NAME|all [tiny|small|full] [RUNS_ROOT]
#   NAME       experiments/NAME/ (experiment.conf, deck, sweep files); `all`: every experiment that
#              declares the variant
#   VARIANT    tiny, small or full (default small: the one sized for a workstation, minutes on 2
#              cores; tiny: seconds, what tests/test_experiments.py runs; full: for a cluster); an
#              experiment without variants, like experiments/width, takes none
#   RUNS_ROOT  where runs go (default: the conf's OUTPUT_DIR, runs): RUNS_ROOT/NAME/VARIANT/NAME-<i>
#   --clean    delete RUNS_ROOT/NAME/VARIANT first (otherwise lines that finished earlier are skipped,
#              and an interrupted training continues from its checkpoint)
#   --publish  copy the figure (PNG) and its JSON into experiments/NAME/ (what the READMEs show)
#
# Each line runs as `mpirun -np P softntk COMMAND DECK --run.output_dir=BASE LINE [--run.name=NAME-i]`
# with P the line's --ntasks=P or the conf's NTASKS. Then `python3 ANALYSIS BASE/NAME.png BASE`.
# Environment: SNTK_BIN (default build/softntk), SNTK_PYTHON (/usr/bin/python3), SNTK_MPIRUN
# (mpirun; add options, e.g. "mpirun --oversubscribe"), OPENBLAS_NUM_THREADS (default 1).
# Outputs: BASE/NAME-<i>/ per line, BASE/logs/NAME-<i>.out (each run's output), BASE/logs/timing.txt
# (seconds per line and in all), BASE/NAME.png, .pdf, .json; then the fitted numbers are compared with
# the ranges of experiments/NAME/expect.json for the variant (analysis/check_expect.py; a number out of
# range is reported, not an error). Exit status 1 when a run or the analysis failed (the analysis
# still runs on what is there).
set -euo pipefail
# shellcheck source=slurm/lib.sh
source "$(dirname "$0")/../slurm/lib.sh"

SNTK_BIN=${SNTK_BIN:-$SNTK_ROOT/build/softntk}
SNTK_PYTHON=${SNTK_PYTHON:-/usr/bin/python3}
SNTK_MPIRUN=${SNTK_MPIRUN:-mpirun}
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
}

# run_line INDEX WORDS...: one sweep line; returns softntk's exit status (0 for a skipped line).
run_line() {
  local i=$1 np=$NTASKS named=0 word
  shift
  local words=()
  for word in "$@"; do
    if [[ "$word" =~ ^--ntasks=[1-9][0-9]*$ ]]; then
      np=${word#--ntasks=}
      continue
    fi
    [[ "$word" == --run.name=* ]] && named=1
    words+=("$word")
  done
  [ "$named" = 1 ] || words+=("--run.name=$EXP_NAME-$i")
  local log="$EXP_BASE/logs/$EXP_NAME-$i.out" done="$EXP_BASE/logs/$EXP_NAME-$i.done"
  if [ -f "$done" ]; then
    echo "  line $i: done earlier, skipped ($log)"
    return 0
  fi
  local cmd=("${mpirun[@]}" -np "$np" "$SNTK_BIN" "$COMMAND" "$DECK" "--run.output_dir=$EXP_BASE"
    "${words[@]}")
  local t0=$SECONDS rc=0
  echo "${cmd[*]}" >"$log"
  "${cmd[@]}" >>"$log" 2>&1 </dev/null || rc=$?
  local dt=$((SECONDS - t0))
  echo "$i $dt $rc ${words[*]}" >>"$EXP_BASE/logs/timing.txt"
  if [ "$rc" = 0 ]; then
    touch "$done"
    printf '  line %d: %3d s  -np %d %s\n' "$i" "$dt" "$np" "${words[*]}"
  else
    printf '  line %d: FAILED (exit %d) after %d s: %s\n' "$i" "$rc" "$dt" "${words[*]}" >&2
    tail -5 "$log" | sed 's/^/    /' >&2
  fi
  return "$rc"
}

# run_one NAME: the sweep and the analysis of one experiment; returns the number of failures.
run_one() {
  sntk_load_experiment "$1" "$variant" small
  [ -z "$runs_root" ] || EXP_BASE=$runs_root/$EXP_NAME${EXP_VARIANT:+/$EXP_VARIANT}
  if [ "$clean" = 1 ]; then rm -rf "$EXP_BASE"; fi
  mkdir -p "$EXP_BASE/logs"
  local label="$EXP_NAME${EXP_VARIANT:+ ($EXP_VARIANT)}" i=0 failed=0 line words t0=$SECONDS
  echo "experiment $label: $(sntk_sweep_count "$SWEEP") runs of softntk $COMMAND into $EXP_BASE"
  while IFS= read -r line; do
    read -r -a words <<<"$line"
    run_line "$i" "${words[@]}" || failed=$((failed + 1))
    i=$((i + 1))
  done < <(awk '!/^[[:space:]]*(#|$)/' "$SWEEP")
  local runs_s=$((SECONDS - t0))
  echo "total $runs_s" >>"$EXP_BASE/logs/timing.txt"
  echo "experiment $label: runs took $runs_s s; analysis: $ANALYSIS"
  local fig="$EXP_BASE/$EXP_NAME.png"
  if "$SNTK_PYTHON" "$SNTK_ROOT/$ANALYSIS" "$fig" "$EXP_BASE"; then
    if [ -f "$EXP_DIR/expect.json" ]; then
      echo "experiment $label: fitted numbers against the documented ranges ($EXP_DIR/expect.json):"
      "$SNTK_PYTHON" "$SNTK_ROOT/analysis/check_expect.py" "${fig%.png}.json" "$EXP_DIR/expect.json" \
        "${EXP_VARIANT:-small}" | sed 's/^/  /' || echo "experiment $label: a fitted number is outside its documented range" >&2
    fi
    if [ "$publish" = 1 ]; then
      cp "$fig" "${fig%.png}.json" "$EXP_DIR/"
      echo "experiment $label: published $EXP_DIR/$EXP_NAME.png and .json"
    fi
  else
    echo "experiment $label: the analysis failed" >&2
    failed=$((failed + 1))
  fi
  echo "experiment $label: $((SECONDS - t0)) s in all, $failed failure(s)"
  return "$failed"
}

clean=0
publish=0
while [ $# -gt 0 ]; do
  case "$1" in
    --clean) clean=1; shift ;;
    --publish) publish=1; shift ;;
    -h | --help) usage; exit 0 ;;
    -*) sntk_die "unknown option $1" ;;
    *) break ;;
  esac
done
if [ $# -lt 1 ] || [ $# -gt 3 ]; then
  sntk_die "usage: scripts/run_experiment.sh [--clean] [--publish] NAME|all [tiny|small|full] [RUNS_ROOT]"
fi
target=$1 variant=${2:-} runs_root=${3:-}
read -r -a mpirun <<<"$SNTK_MPIRUN"
[ -x "$SNTK_BIN" ] || sntk_die "softntk executable $SNTK_BIN not found: build it (meson setup build && ninja -C build) or set SNTK_BIN"

names=()
if [ "$target" = all ]; then
  for conf in "$SNTK_ROOT"/experiments/*/experiment.conf; do
    dir=$(dirname "$conf")
    # only experiments that declare the variant
    if (sntk_load_experiment "$dir" "${variant:-small}" small && [ -n "$VARIANTS" ]) >/dev/null 2>&1; then
      names+=("$dir")
    fi
  done
  [ ${#names[@]} -gt 0 ] || sntk_die "no experiment has the variant '$variant'"
else
  names=("$target")
fi
failures=0
for n in "${names[@]}"; do
  run_one "$n" || failures=$((failures + $?))
done
[ "$failures" = 0 ] || {
  echo "run_experiment.sh: $failures failure(s)" >&2
  exit 1
}
