#!/bin/bash
# scripts/figures.sh: regenerate every experiment's figure from a directory of results, with one
# command. For each experiments/NAME/ it runs the experiment's analysis script on
# RUNS_ROOT/NAME/VARIANT (RUNS_ROOT/NAME for an experiment without variants) when that directory
# exists, so the same command serves runs made here (scripts/run_experiment.sh) and runs copied back
# from a cluster (slurm/experiment.sh writes the same layout).
#
# usage: scripts/figures.sh [--publish] [RUNS_ROOT] [small|full]
#   RUNS_ROOT  default runs;  VARIANT default small
#   --publish  copy each PNG and JSON into experiments/NAME/
# Outputs: RUNS_ROOT/NAME/VARIANT/NAME.png, .pdf, .json. Exit status 1 when an analysis failed.
set -euo pipefail
# shellcheck source=slurm/lib.sh
source "$(dirname "$0")/../slurm/lib.sh"
SNTK_PYTHON=${SNTK_PYTHON:-/usr/bin/python3}

publish=0
if [ "${1:-}" = --publish ]; then
  publish=1
  shift
fi
case "${1:-}" in -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;; esac
root=${1:-runs} variant=${2:-small}
# pick_variant DIR: print the variant to analyse (the asked one, or '' for an experiment without
# variants); fail for an experiment that has variants but not this one.
pick_variant() {
  if (sntk_load_experiment "$1" "$variant" small) >/dev/null 2>&1; then
    echo "$variant"
  elif (sntk_load_experiment "$1" "" small && [ -z "$VARIANTS" ]) >/dev/null 2>&1; then
    echo ""
  else
    return 1
  fi
}

made=0 failed=0 skipped=0
for conf in "$SNTK_ROOT"/experiments/*/experiment.conf; do
  dir=$(dirname "$conf")
  v=$(pick_variant "$dir") || continue
  sntk_load_experiment "$dir" "$v" small
  base=$root/$EXP_NAME${EXP_VARIANT:+/$EXP_VARIANT}
  if [ ! -d "$base" ]; then
    echo "figures: $EXP_NAME: no results in $base, skipped"
    skipped=$((skipped + 1))
    continue
  fi
  if "$SNTK_PYTHON" "$SNTK_ROOT/$ANALYSIS" "$base/$EXP_NAME.png" "$base"; then
    made=$((made + 1))
    if [ "$publish" = 1 ]; then cp "$base/$EXP_NAME.png" "$base/$EXP_NAME.json" "$dir/"; fi
  else
    echo "figures: $EXP_NAME: the analysis failed" >&2
    failed=$((failed + 1))
  fi
done
echo "figures: $made made, $failed failed, $skipped skipped (no results)"
[ "$failed" = 0 ]
