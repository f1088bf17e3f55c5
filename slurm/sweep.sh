#!/bin/bash
# slurm/sweep.sh: submit a parameter sweep as one Slurm job array, one task per line of a sweep file.
# Why an array: one submission, one job ID to depend on, and a throttle (%N) so a long sweep does not
# flood the queue. Each task runs slurm/softntk.sbatch (so it checkpoints, requeues and resumes like any
# softntk job) with the overrides of its line appended to the command.
#
# usage: slurm/sweep.sh [options] [--sbatch-option=value ...] SWEEP_FILE DECK [--section.key=value ...]
#   --throttle N     at most N tasks run at once (default 4)
#   --name NAME      job name and run-name prefix: task i writes <output_dir>/NAME-i unless its line
#                    sets --run.name (default: the sweep file's name without extension)
#   --command CMD    softntk command (default train)
#   --logs DIR       job output files DIR/NAME-<array job>_<task>.out (default slurm-logs)
#   --dry-run        print the sbatch command instead of submitting
#   any other --option=value before SWEEP_FILE is passed to sbatch (e.g. --ntasks=4 --time=2:00:00)
#
# Sweep file: one line per task, each a whitespace-separated list of --section.key=value overrides.
# Blank lines and lines starting with '#' are skipped; the other lines are numbered 0, 1, 2, ... in
# file order and array task i runs line i. Prints the array job ID.
set -euo pipefail
# shellcheck source=slurm/lib.sh
source "$(dirname "$0")/lib.sh"

throttle=4 name="" command=train logs=slurm-logs sbatch_opts=()
while [ $# -gt 0 ]; do
  case "$1" in
    --throttle) throttle=${2:?}; shift 2 ;;
    --name) name=${2:?}; shift 2 ;;
    --command) command=${2:?}; shift 2 ;;
    --logs) logs=${2:?}; shift 2 ;;
    --dry-run) SNTK_DRY_RUN=1; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    --*=*) sbatch_opts+=("$1"); shift ;;
    -*) sntk_die "unknown option $1 (sbatch options must be written --option=value)" ;;
    *) break ;;
  esac
done
[ $# -ge 2 ] || sntk_die "usage: slurm/sweep.sh [options] SWEEP_FILE DECK [--section.key=value ...] (see --help)"
sweep=$1
shift
[[ "$throttle" =~ ^[1-9][0-9]*$ ]] || sntk_die "--throttle must be a positive integer, not '$throttle'"
[ -n "$name" ] || name=$(basename "${sweep%.*}")

sntk_submit_sweep "$name" "$sweep" "$throttle" "$logs" "${sbatch_opts[@]}" -- "$command" "$@"
echo "sweep $name: array job $SNTK_JOB_ID, $SNTK_TASKS tasks, at most $throttle at once; output in $logs/"
