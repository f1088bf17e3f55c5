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

# sntk_sweep_max_ntasks FILE: the largest `--ntasks=P` a sweep line sets (0 when none does). Such a
# word is not a deck override: it runs that line on P ranks (softntk.sbatch, scripts/run_experiment.sh).
sntk_sweep_max_ntasks() {
  awk '!/^[[:space:]]*(#|$)/ { for (i = 1; i <= NF; i++) if ($i ~ /^--ntasks=[0-9]+$/) {
         v = substr($i, 10) + 0; if (v > m) m = v } }
       END { print m + 0 }' "$1"
}

# sntk_load_experiment NAME_OR_DIR VARIANT DEFAULT_VARIANT: read experiments/NAME/experiment.conf (or
# DIR/experiment.conf) over the defaults below. An experiment with variants sets VARIANTS (e.g.
# "small full") and may use $VARIANT in its assignments (e.g. SWEEP=sweep-$VARIANT.txt): the conf is
# sourced with VARIANT set to the one asked for, or DEFAULT_VARIANT when none is. An experiment without
# VARIANTS has one variant, '' (asking for another is an error). Sets EXP_DIR, EXP_NAME, EXP_VARIANT,
# EXP_BASE (OUTPUT_DIR/NAME, plus /VARIANT for an experiment with variants) and EXP_MAX_NTASKS (largest
# --ntasks=P of the sweep), and the conf's variables DECK SWEEP ANALYSIS COMMAND NTASKS NODES TIME
# THROTTLE OUTPUT_DIR VARIANTS (DECK and SWEEP made absolute).
sntk_load_experiment() {
  local arg=$1 want=$2 default=$3 dir
  dir=$arg
  [ -d "$dir" ] || dir="$SNTK_ROOT/experiments/$arg"
  [ -f "$dir/experiment.conf" ] || sntk_die "no experiment $arg: $dir/experiment.conf not found"
  EXP_DIR=$(cd "$dir" && pwd)
  EXP_NAME=$(basename "$EXP_DIR")
  _sntk_source_conf "$want"
  if [ -n "$VARIANTS" ]; then
    if [ -z "$want" ]; then
      want=$default
      _sntk_source_conf "$want"
    fi
    case " $VARIANTS " in
      *" $want "*) ;;
      *) sntk_die "experiment $EXP_NAME has the variants '$VARIANTS', not '$want'" ;;
    esac
  elif [ -n "$want" ]; then
    sntk_die "experiment $EXP_NAME has no variants (its experiment.conf sets no VARIANTS): drop '$want'"
  fi
  EXP_VARIANT=$want
  [ -n "$ANALYSIS" ] || sntk_die "$EXP_DIR/experiment.conf sets no ANALYSIS script"
  [ -f "$SNTK_ROOT/$ANALYSIS" ] || sntk_die "analysis script $SNTK_ROOT/$ANALYSIS not found"
  DECK=$EXP_DIR/$DECK
  SWEEP=$EXP_DIR/$SWEEP
  [ -f "$DECK" ] || sntk_die "deck $DECK not found"
  [ -f "$SWEEP" ] || sntk_die "sweep file $SWEEP not found"
  EXP_BASE=$OUTPUT_DIR/$EXP_NAME${EXP_VARIANT:+/$EXP_VARIANT}
  EXP_MAX_NTASKS=$(sntk_sweep_max_ntasks "$SWEEP")
}

# The defaults of experiment.conf, then the file itself, with VARIANT=$1.
_sntk_source_conf() {
  DECK=deck.ini SWEEP=sweep.txt ANALYSIS="" COMMAND=train NTASKS=2 NODES=1 TIME=01:00:00 THROTTLE=4
  OUTPUT_DIR=runs VARIANTS=""
  VARIANT=$1
  # shellcheck source=/dev/null
  source "$EXP_DIR/experiment.conf"
}
