#!/usr/bin/env python3
"""Print the one-line summary of Meson test logs (JSON lines): `N passed, M failed, K skipped`.
Several logs are added up; a missing log counts as one failure (its stage did not run)."""
import json
import os
import sys

passed = failed = skipped = 0
for path in sys.argv[1:]:
    if not os.path.exists(path):
        failed += 1
        print(f"{path}: missing", file=sys.stderr)
        continue
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            result = json.loads(line)["result"]
            if result in ("OK", "EXPECTEDFAIL"):
                passed += 1
            elif result == "SKIP":
                skipped += 1
            else:
                failed += 1
print(f"{passed} passed, {failed} failed, {skipped} skipped")
