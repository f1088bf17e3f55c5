#!/bin/bash
# slurm/scaling.sh: submit a strong and a weak parallel-scaling series of `softntk train`, and an
# analysis job that runs after all of them (--dependency=afterany) and draws the scaling figure.
# Why: speed-up and efficiency over rank and node counts are the numbers a cluster user needs before
# choosing a job size; the figure comes from the results.h5 files alone (analysis/scaling.py).
#
# usage: slurm/scaling.sh [options] [--sbatch-option=value ...] DECK [--section.key=value ...]
#   --name NAME             series name (default scaling); runs go to
#                           <output dir>/NAME/strong/r<P> and <output dir>/NAME/weak/r<P>
#   --output-dir DIR        (default runs)
#   --ranks "1 2 4 8"       rank counts P (default "1 2 4")
#   --ranks-per-node N      ranks per node: P ranks use ceil(P / N) nodes (default: P on one node)
#   --width M               strong scaling: width m for every P (default: the deck's)
#   --width-per-rank M      weak scaling: m = M * P (default 4096)
#   --logs DIR              job output files (default DIR/NAME/logs)
#   --dry-run               print the sbatch commands instead of submitting
#   any other --option=value before DECK is passed to sbatch for the training jobs (e.g. --time=0:30:00)
#
# The analysis writes <output dir>/NAME/NAME.png, .pdf and .json (speed-up and efficiency). Reruns of
# this script with the same NAME continue or reuse the finished runs: choose a new NAME to re-measure.
set -euo pipefail
# shellcheck source=slurm/lib.sh
source "$(dirname "$0")/lib.sh"

name=scaling outdir=runs ranks="1 2 4" per_node="" width="" width_per_rank=4096 logs="" sbatch_opts=()
while [ $# -gt 0 ]; do
  case "$1" in
    --name) name=${2:?}; shift 2 ;;
    --output-dir) outdir=${2:?}; shift 2 ;;
    --ranks) ranks=${2:?}; shift 2 ;;
    --ranks-per-node) per_node=${2:?}; shift 2 ;;
    --width) width=${2:?}; shift 2 ;;
    --width-per-rank) width_per_rank=${2:?}; shift 2 ;;
    --logs) logs=${2:?}; shift 2 ;;
    --dry-run) SNTK_DRY_RUN=1; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    --*=*) sbatch_opts+=("$1"); shift ;;
    -*) sntk_die "unknown option $1 (sbatch options must be written --option=value)" ;;
    *) break ;;
  esac
done
[ $# -ge 1 ] || sntk_die "usage: slurm/scaling.sh [options] DECK [--section.key=value ...] (see --help)"
deck=$1
shift
[ -f "$deck" ] || sntk_die "deck $deck not found"
for v in $ranks $per_node $width $width_per_rank; do
  [[ "$v" =~ ^[1-9][0-9]*$ ]] || sntk_die "rank counts and widths must be positive integers, not '$v'"
done
base="$outdir/$name"
[ -n "$logs" ] || logs="$base/logs"
sntk_mkdir "$logs"

ids=()
for kind in strong weak; do
  for p in $ranks; do
    nodes=1
    [ -z "$per_node" ] || nodes=$(((p + per_node - 1) / per_node))
    extra=()
    if [ "$kind" = weak ]; then
      extra+=("--model.width=$((width_per_rank * p))")
    elif [ -n "$width" ]; then
      extra+=("--model.width=$width")
    fi
    sntk_submit --job-name="$name-$kind-r$p" --nodes="$nodes" --ntasks="$p" \
      --output="$logs/%x-%j.out" "${sbatch_opts[@]}" \
      "$SNTK_JOB_SCRIPT" train "$deck" "$@" "${extra[@]}" \
      "--run.output_dir=$base/$kind" "--run.name=r$p"
    ids+=("$SNTK_JOB_ID")
    echo "$kind scaling, $p rank(s) on $nodes node(s): job $SNTK_JOB_ID"
  done
done

deps=$(IFS=:; echo "${ids[*]}")
sntk_submit --job-name="$name-analysis" --ntasks=1 --nodes=1 --time=00:15:00 \
  --dependency="afterany:$deps" --output="$logs/%x-%j.out" \
  "$SNTK_JOB_SCRIPT" --python "$SNTK_ROOT/analysis/scaling.py" "$base/$name.png" \
  --strong "$base/strong" --weak "$base/weak"
echo "analysis: job $SNTK_JOB_ID after all of them; figure $base/$name.png"
