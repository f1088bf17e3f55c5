#!/bin/bash
# slurm/experiment.sh: submit one experiment from experiments/ with one command: its sweep (a job
# array, see sweep.sh) and then its analysis (a job that runs after every task, --dependency=afterany,
# and draws the figure from the results.h5 files).
# Why: an experiment is data (a deck, a sweep file, an analysis script), so reproducing one on any
# Slurm cluster is `slurm/experiment.sh NAME`, nothing else to remember.
#
# usage: slurm/experiment.sh [--dry-run] [--variant=small|full] [--sbatch-option=value ...] NAME_OR_DIR
#   NAME is a directory experiments/NAME/ (or give any directory) holding:
#     experiment.conf  bash assignments (every one optional but ANALYSIS):
#                        DECK=deck.ini           the base deck, relative to the experiment directory
#                        SWEEP=sweep.txt         the sweep file (format: see slurm/sweep.sh)
#                        ANALYSIS=analysis/x.py  run as: python3 ANALYSIS OUT.png RUNS_DIR
#                        COMMAND=train           softntk command of every task
#                        NTASKS=2 NODES=1        ranks and nodes per task (a sweep line may run on
#                                                fewer ranks with --ntasks=P)
#                        TIME=01:00:00           time limit per task (it requeues itself past it)
#                        THROTTLE=4              tasks at once
#                        OUTPUT_DIR=runs         runs go to OUTPUT_DIR/NAME/NAME-<task>
#                        VARIANTS="small full"   the experiment's variants (none: no variants); the
#                                                conf is read with $VARIANT set, e.g.
#                                                SWEEP=sweep-$VARIANT.txt, and the runs go to
#                                                OUTPUT_DIR/NAME/VARIANT/NAME-<task>
#     deck.ini, sweep.txt  as named above
#   --variant=V     the variant to submit (default: full, for experiments that have variants)
#   --sbatch-option=value options are passed to sbatch for the sweep tasks (e.g. --qos=long).
#
# Outputs: BASE/NAME-<i>/ (one run per sweep line), BASE/NAME.png/.pdf/.json (the analysis),
# BASE/logs/ (job output), where BASE is OUTPUT_DIR/NAME[/VARIANT]. Paths are relative to the
# directory you submit from.
set -euo pipefail
# shellcheck source=slurm/lib.sh
source "$(dirname "$0")/lib.sh"

sbatch_opts=()
variant=""
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) SNTK_DRY_RUN=1; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    --variant=*) variant=${1#--variant=}; shift ;;
    --variant) variant=${2:?--variant needs a name}; shift 2 ;;
    --*=*) sbatch_opts+=("$1"); shift ;;
    -*) sntk_die "unknown option $1 (sbatch options must be written --option=value)" ;;
    *) break ;;
  esac
done
[ $# -eq 1 ] || sntk_die "usage: slurm/experiment.sh [--dry-run] [--variant=V] [--sbatch-option=value ...] NAME_OR_DIR"
sntk_load_experiment "$1" "$variant" full
name=$EXP_NAME
[ "$EXP_MAX_NTASKS" -le "$NTASKS" ] ||
  sntk_die "a line of $SWEEP runs on --ntasks=$EXP_MAX_NTASKS ranks but experiment.conf gives each task NTASKS=$NTASKS"

base=$EXP_BASE
logs="$base/logs"
label="experiment $name${EXP_VARIANT:+ ($EXP_VARIANT)}"
sntk_submit_sweep "$name" "$SWEEP" "$THROTTLE" "$logs" --ntasks="$NTASKS" --nodes="$NODES" \
  --time="$TIME" "${sbatch_opts[@]}" -- "$COMMAND" "$DECK" "--run.output_dir=$base"
sweep_id=$SNTK_JOB_ID
echo "$label: sweep array job $sweep_id ($SNTK_TASKS tasks, at most $THROTTLE at once)"

sntk_submit --job-name="$name-analysis" --ntasks=1 --nodes=1 --time=00:15:00 \
  --dependency="afterany:$sweep_id" --output="$logs/%x-%j.out" \
  "$SNTK_JOB_SCRIPT" --python "$SNTK_ROOT/$ANALYSIS" "$base/$name.png" "$base"
echo "$label: analysis job $SNTK_JOB_ID after the sweep; figure $base/$name.png"
