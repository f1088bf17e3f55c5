# shellcheck shell=bash disable=SC2034  # SNTK_JOB_ID, SNTK_TASKS are read by the callers
# slurm/lib.sh: functions shared by the submit-side scripts (sweep.sh, scaling.sh, experiment.sh).
# Sourced, not run. Every job they submit is slurm/softntk.sbatch, so its site header (partition,
# account, modules, launcher) applies to all of them; nothing here needs editing for a cluster.

SNTK_SLURM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SNTK_JOB_SCRIPT="$SNTK_SLURM_DIR/softntk.sbatch"
# The jobs find the repository (build/softntk, analysis/) through this variable; sbatch passes the
# submitting environment on to the job.
SNTK_ROOT=${SNTK_ROOT:-$(cd "$SNTK_SLURM_DIR/.." && pwd)}
export SNTK_ROOT
SNTK_DRY_RUN=${SNTK_DRY_RUN:-0}
sntk_dry_count=0

sntk_die() {
  echo "$(basename "$0"): error: $*" >&2
  exit 2
}

# sntk_submit SBATCH_ARGS... : submit, print nothing, set SNTK_JOB_ID. With SNTK_DRY_RUN=1, print the
# sbatch command instead and set a placeholder id.
sntk_submit() {
  if [ "$SNTK_DRY_RUN" = 1 ]; then
    sntk_dry_count=$((sntk_dry_count + 1))
    SNTK_JOB_ID="DRY$sntk_dry_count"
    echo "dry run: sbatch $*" >&2
    return 0
  fi
  local out
  out=$(sbatch --parsable "$@") || sntk_die "sbatch $* failed"
  SNTK_JOB_ID=${out%%;*}
}

# sntk_mkdir DIR: create an output directory (not in a dry run).
sntk_mkdir() {
  if [ "$SNTK_DRY_RUN" != 1 ]; then mkdir -p "$1"; fi
}

# sntk_sweep_count FILE: number of sweep lines (blank lines and '#' comment lines do not count; the
# rule is the same as in softntk.sbatch's sweep_line).
sntk_sweep_count() {
  awk '!/^[[:space:]]*(#|$)/' "$1" | wc -l
}

# sntk_submit_sweep NAME SWEEP_FILE THROTTLE LOG_DIR "SBATCH_OPTS..." -- COMMAND [ARGS...]
# Submits the array job (task i = line i of the sweep file), sets SNTK_JOB_ID and SNTK_TASKS.
sntk_submit_sweep() {
  local name=$1 sweep=$2 throttle=$3 logs=$4
  shift 4
  local opts=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do
    opts+=("$1")
    shift
  done
  [ "${1:-}" = -- ] || sntk_die "internal: sntk_submit_sweep needs -- before the command"
  shift
  [ -f "$sweep" ] || sntk_die "sweep file $sweep not found"
  SNTK_TASKS=$(sntk_sweep_count "$sweep")
  [ "$SNTK_TASKS" -gt 0 ] || sntk_die "sweep file $sweep has no line (blank lines and # comments do not count)"
  sntk_mkdir "$logs"
  sweep=$(cd "$(dirname "$sweep")" && pwd)/$(basename "$sweep")
  sntk_submit --array="0-$((SNTK_TASKS - 1))%$throttle" --job-name="$name" \
    --output="$logs/%x-%A_%a.out" "${opts[@]}" \
    "$SNTK_JOB_SCRIPT" --sweep "$sweep" --sweep-name "$name" "$@"
}
