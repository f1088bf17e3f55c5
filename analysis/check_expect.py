#!/usr/bin/python3
"""Compare an experiment's fitted numbers with the ranges its README documents.

usage: analysis/check_expect.py RESULT.json EXPECT.json VARIANT

EXPECT.json (experiments/NAME/expect.json) maps a variant (tiny, small, full) to a list of
[key, low, high, what]: `key` is a path into RESULT.json (the analysis script's output): dotted, with
integers indexing lists ("fits.softmax.slope", "rows.0.ratio"), or, when it starts with "/", a JSON
pointer for names that hold dots ("/series/exp, sigma = 0.5/fit_fro/slope"); the check holds when
low <= value <= high (null for an open end). Prints one `ok`/`FAIL` line per check and exits 0 when
all hold, 1 when one does not (or a key is missing), 2 for bad arguments. A variant that EXPECT.json
does not list has nothing to check (exit 0)."""
import json
import sys


def lookup(doc, key):
    cur = doc
    parts = key[1:].split("/") if key.startswith("/") else key.split(".")
    for part in parts:
        if isinstance(cur, list):
            cur = cur[int(part)]
        else:
            cur = cur[part]
    return cur


def check(result, expect, variant):
    """Returns (lines, failures)."""
    lines, failures = [], 0
    for key, low, high, what in expect.get(variant, []):
        try:
            value = float(lookup(result, key))
        except (KeyError, IndexError, ValueError, TypeError):
            lines.append(f"FAIL {what}: {key} missing from the results")
            failures += 1
            continue
        ok = (low is None or value >= low) and (high is None or value <= high)
        rng = f"[{'-inf' if low is None else low}, {'inf' if high is None else high}]"
        lines.append(f"{'ok  ' if ok else 'FAIL'} {what}: {key} = {value:.4g} in {rng}")
        failures += not ok
    return lines, failures


def main(argv):
    if len(argv) != 4:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    with open(argv[1]) as f:
        result = json.load(f)
    with open(argv[2]) as f:
        expect = json.load(f)
    lines, failures = check(result, expect, argv[3])
    for ln in lines:
        print(ln)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
