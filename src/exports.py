#!/usr/bin/env python3
"""The public API of libsoftntk as a linker version script: every sntk_* function and extern object
declared in include/softntk/*.h is exported; every other symbol of the library is local.

Usage: exports.py OUTPUT HEADER...
"""
import re
import sys

FUNC = re.compile(r"\b(sntk_[A-Za-z0-9_]+)\s*\(")
EXTERN = re.compile(r"\bextern\b[^;(]*?\b(sntk_[A-Za-z0-9_]+)\s*(?:\[[^\]]*\])*\s*;")


def public_names(paths):
    names = set()
    for path in paths:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
        text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)  # comments mention other names
        text = re.sub(r"^\s*#\s*define[^\n]*(\\\n[^\n]*)*", " ", text, flags=re.M)  # macros
        names.update(FUNC.findall(text))
        names.update(EXTERN.findall(text))
    return sorted(names)


def main():
    out, headers = sys.argv[1], sys.argv[2:]
    names = public_names(headers)
    with open(out, "w", encoding="utf-8") as fh:
        fh.write("{\n  global:\n")
        for n in names:
            fh.write(f"    {n};\n")
        fh.write("  local:\n    *;\n};\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
