#!/bin/bash
# slurm/experiment.sh: submit one experiment from experiments/ with one command: its sweep (a job
# array, see sweep.sh) and then its analysis (a job that runs after every task, --dependency=afterany,
# and draws the figure from the results.h5 files).
# Why: an experiment is data (a deck, a sweep file, an analysis script), so reproducing one on any
# Slurm cluster is `slurm/experiment.sh NAME`, nothing else to remember.
#
# usage: slurm/experiment.sh [--dry-run] [--sbatch-option=value ...] NAME_OR_DIR
#   NAME is a directory experiments/NAME/ (or give any directory) holding:
#     experiment.conf  bash assignments (every one optional but ANALYSIS):
#                        DECK=deck.ini           the base deck, relative to the experiment directory
#                        SWEEP=sweep.txt         the sweep file (format: see slurm/sweep.sh)
#                        ANALYSIS=analysis/x.py  run as: python3 ANALYSIS OUT.png RUNS_DIR
#                        COMMAND=train           softntk command of every task
#                        NTASKS=2 NODES=1        ranks and nodes per task
#                        TIME=01:00:00           time limit per task (it requeues itself past it)
#                        THROTTLE=4              tasks at once
#                        OUTPUT_DIR=runs         runs go to OUTPUT_DIR/NAME/NAME-<task>
#     deck.ini, sweep.txt  as named above
#   --sbatch-option=value options are passed to sbatch for the sweep tasks (e.g. --qos=long).
#
# Outputs: OUTPUT_DIR/NAME/NAME-<i>/ (one run per sweep line), OUTPUT_DIR/NAME/NAME.png/.pdf/.json (the
# analysis), OUTPUT_DIR/NAME/logs/ (job output). Paths are relative to the directory you submit from.
set -euo pipefail
# shellcheck source=slurm/lib.sh
source "$(dirname "$0")/lib.sh"

sbatch_opts=()
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) SNTK_DRY_RUN=1; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    --*=*) sbatch_opts+=("$1"); shift ;;
    -*) sntk_die "unknown option $1 (sbatch options must be written --option=value)" ;;
    *) break ;;
  esac
done
[ $# -eq 1 ] || sntk_die "usage: slurm/experiment.sh [--dry-run] [--sbatch-option=value ...] NAME_OR_DIR"
dir=$1
[ -d "$dir" ] || dir="$SNTK_ROOT/experiments/$1"
[ -f "$dir/experiment.conf" ] || sntk_die "no experiment $1: $dir/experiment.conf not found"
dir=$(cd "$dir" && pwd)
name=$(basename "$dir")

DECK=deck.ini SWEEP=sweep.txt ANALYSIS="" COMMAND=train NTASKS=2 NODES=1 TIME=01:00:00 THROTTLE=4
OUTPUT_DIR=runs
# shellcheck source=/dev/null
source "$dir/experiment.conf"
[ -n "$ANALYSIS" ] || sntk_die "$dir/experiment.conf sets no ANALYSIS script"
[ -f "$SNTK_ROOT/$ANALYSIS" ] || sntk_die "analysis script $SNTK_ROOT/$ANALYSIS not found"
[ -f "$dir/$DECK" ] || sntk_die "deck $dir/$DECK not found"

base="$OUTPUT_DIR/$name"
logs="$base/logs"
sntk_submit_sweep "$name" "$dir/$SWEEP" "$THROTTLE" "$logs" --ntasks="$NTASKS" --nodes="$NODES" \
  --time="$TIME" "${sbatch_opts[@]}" -- "$COMMAND" "$dir/$DECK" "--run.output_dir=$base"
sweep_id=$SNTK_JOB_ID
echo "experiment $name: sweep array job $sweep_id ($SNTK_TASKS tasks, at most $THROTTLE at once)"

sntk_submit --job-name="$name-analysis" --ntasks=1 --nodes=1 --time=00:15:00 \
  --dependency="afterany:$sweep_id" --output="$logs/%x-%j.out" \
  "$SNTK_JOB_SCRIPT" --python "$SNTK_ROOT/$ANALYSIS" "$base/$name.png" "$base"
echo "experiment $name: analysis job $SNTK_JOB_ID after the sweep; figure $base/$name.png"
