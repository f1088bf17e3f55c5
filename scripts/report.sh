#!/bin/bash
# scripts/report.sh: the claims report of a results directory, with one command: one self-contained
# HTML page (figures embedded) and a PDF of it, per claim of the paper: the statement, the prediction
# with its constant, the measured numbers with their intervals and seed counts, a verdict, the figure
# and the command that reruns it (analysis/report.py; the claims are analysis/claims.py).
#
# usage: scripts/report.sh [--variant tiny|small|full] [--strict] [--no-pdf] RESULTS_DIR [OUT]
#        scripts/report.sh --publish
#   RESULTS_DIR  runs/ after `scripts/run_experiment.sh all small` (RESULTS_DIR/NAME/VARIANT/NAME.json),
#                or experiments/ (the published small variants, experiments/NAME/NAME.json)
#   OUT          output stem (default RESULTS_DIR/report): OUT.html and OUT.pdf
#   --variant    which variant of a runs/ directory (default: the largest present)
#   --strict     exit 1 when a measurement, figure or experiment is missing
#   --publish    the published report: experiments/report.html and .pdf from experiments/, and the
#                README's experiments table rewritten from the same JSONs
# The PDF is printed by headless Chromium (Debian's chromium; SNTK_CHROMIUM names another).
# Environment: SNTK_PYTHON (default /usr/bin/python3). Exit status: 0 done, 1 a failure (Chromium,
# --strict), 2 bad arguments or no results.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
SNTK_PYTHON=${SNTK_PYTHON:-/usr/bin/python3}
report=$root/analysis/report.py

case "${1:-}" in
  -h | --help)
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    exit 0
    ;;
  --publish)
    [ $# -eq 1 ] || { echo "usage: scripts/report.sh --publish" >&2; exit 2; }
    cd "$root"
    "$SNTK_PYTHON" "$report" experiments experiments/report
    exec "$SNTK_PYTHON" "$report" --update-readme README.md experiments
    ;;
esac
[ $# -ge 1 ] || { echo "usage: scripts/report.sh [--variant V] [--strict] [--no-pdf] RESULTS_DIR [OUT]" >&2; exit 2; }
exec "$SNTK_PYTHON" "$report" "$@"
