#!/usr/bin/env python3
"""The layering of src/README.md, enforced: a file may include or call only its own layer and the
layers below it (base < kernels < services < app), and no two modules include each other.

Two graphs are checked:
  * includes: every #include of a softntk header (public include/softntk/*.h or a module's own
    internal header) in src/ and include/;
  * calls (when a build directory is given, as meson does): every undefined sntk_* symbol of an
    object file of libsoftntk, resolved to the object that defines it (nm), so that a hand-written
    declaration cannot go around the include check.

`--plant` copies src/ and include/ to a scratch directory, adds an upward include (core/error.c
including the deck of the app layer) and checks that the include check fails there.

Usage: test_layering.py [--build DIR] [--plant]
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.environ.get("SOFTNTK_SOURCE_ROOT") or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

LAYERS = ["base", "kernels", "services", "app"]
# module (a directory of src/) -> layer
MODULE_LAYER = {
    "core": "base", "rng": "base", "parallel": "base",
    "h5": "kernels", "data": "kernels", "model": "kernels", "ntk": "kernels", "diffusion": "kernels",
    "io": "services", "train": "services",
    "app": "app", "cli": "app",
}
# public header -> module that implements it
HEADER_MODULE = {
    "error": "core", "log": "core", "config": "core", "perf": "core", "version": "core",
    "blasinfo": "core", "signals": "core", "mem": "core",
    "rng": "rng",
    "parallel": "parallel", "grid": "parallel", "scalapack": "parallel",
    "h5util": "h5", "filesum": "h5",
    "data": "data", "model": "model", "ntk": "ntk", "perturb": "ntk",
    "diffusion": "diffusion", "target": "diffusion", "process": "diffusion", "sampler": "diffusion",
    "metrics": "diffusion", "score": "diffusion",
    "results": "h5",
    "checkpoint": "io", "inspect": "io", "rundir": "io", "runlock": "io", "runfile": "io",
    "train": "train",
    "deck": "app", "bench": "app", "commands": "app",
}

INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]', re.M)


def module_of_header(name, src_dir_of_includer, root):
    """Module of an included header, None for system headers."""
    if name.startswith("softntk/"):
        base = os.path.splitext(os.path.basename(name))[0]
        if base not in HEADER_MODULE:
            raise SystemExit(f"test_layering: public header {name} has no module in HEADER_MODULE")
        return HEADER_MODULE[base]
    if src_dir_of_includer and os.path.exists(os.path.join(src_dir_of_includer, name)):
        return os.path.basename(src_dir_of_includer)
    return None


def include_graph(root):
    """(file, its module, included module) for every softntk include."""
    edges = []
    for top in ("src", "include/softntk"):
        for dirpath, _, files in os.walk(os.path.join(root, top)):
            for f in sorted(files):
                if not f.endswith((".c", ".h", ".c.in")):
                    continue
                path = os.path.join(dirpath, f)
                rel = os.path.relpath(path, root)
                if top == "src":
                    mod = os.path.basename(dirpath)
                    local = dirpath
                else:
                    base = f[:-2]
                    if base not in HEADER_MODULE:
                        raise SystemExit(f"test_layering: {rel} has no module in HEADER_MODULE")
                    mod, local = HEADER_MODULE[base], None
                if mod not in MODULE_LAYER:
                    raise SystemExit(f"test_layering: module {mod} ({rel}) has no layer")
                with open(path, encoding="utf-8") as fh:
                    for inc in INCLUDE.findall(fh.read()):
                        other = module_of_header(inc, local, root)
                        if other is not None and other != mod:
                            edges.append((rel, mod, other))
    return edges


def call_graph(build):
    """(object, its module, called module) from nm over libsoftntk's objects."""
    objdir = None
    for d in os.listdir(build):
        if d.startswith("libsoftntk") and d.endswith(".p"):
            objdir = os.path.join(build, d)
    if objdir is None:
        return []
    objs = {}
    for f in sorted(os.listdir(objdir)):
        m = re.match(r"src_([a-z0-9]+)_.*\.c\.o$", f)
        if m:
            objs[os.path.join(objdir, f)] = m.group(1)
    defined, undefined = {}, {}
    for obj, mod in objs.items():
        out = subprocess.run(["nm", obj], capture_output=True, text=True, check=True).stdout
        undefined[obj] = set()
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[1] in "TDBR":
                defined[parts[2]] = mod
            elif len(parts) == 2 and parts[0] == "U" and parts[1].startswith("sntk_"):
                undefined[obj].add(parts[1])
    edges = []
    for obj, syms in undefined.items():
        for s in sorted(syms):
            if s in defined and defined[s] != objs[obj]:
                edges.append((os.path.basename(obj) + " calls " + s, objs[obj], defined[s]))
    return edges


def base_hdf5(root):
    """Files of the base layer that include HDF5 (the base layer has no file format)."""
    bad = []
    for mod, layer in MODULE_LAYER.items():
        d = os.path.join(root, "src", mod)
        if layer != "base" or not os.path.isdir(d):
            continue
        for f in sorted(os.listdir(d)):
            with open(os.path.join(d, f), encoding="utf-8") as fh:
                if "hdf5.h" in INCLUDE.findall(fh.read()):
                    bad.append(f"src/{mod}/{f}: the base layer includes hdf5.h")
    for h, mod in HEADER_MODULE.items():
        p = os.path.join(root, "include", "softntk", h + ".h")
        if MODULE_LAYER[mod] == "base" and os.path.exists(p):
            with open(p, encoding="utf-8") as fh:
                if "hdf5.h" in INCLUDE.findall(fh.read()):
                    bad.append(f"include/softntk/{h}.h: the base layer includes hdf5.h")
    return bad


def exported(build, root):
    """Symbols the shared library exports that no public header declares (the API is explicit)."""
    sys.path.insert(0, os.path.join(root, "src"))
    from exports import public_names
    inc = os.path.join(root, "include", "softntk")
    public = set(public_names([os.path.join(inc, f) for f in os.listdir(inc) if f.endswith(".h")]))
    libs = [f for f in os.listdir(build) if f.startswith("libsoftntk.so")]
    if not libs:
        return []
    out = subprocess.run(["nm", "-D", "--defined-only", os.path.join(build, sorted(libs)[0])],
                         capture_output=True, text=True, check=True).stdout
    syms = {l.split()[-1] for l in out.splitlines() if len(l.split()) == 3 and l.split()[1] in "TDBR"}
    print(f"exported: {len(syms)} symbols, {len(public)} public names")
    return [f"libsoftntk exports {s}, which no public header declares" for s in sorted(syms - public)]


def violations(edges):
    bad = []
    for what, mod, other in edges:
        if LAYERS.index(MODULE_LAYER[other]) > LAYERS.index(MODULE_LAYER[mod]):
            bad.append(f"{what}: {mod} ({MODULE_LAYER[mod]}) uses {other} ({MODULE_LAYER[other]})")
    pairs = {(m, o) for _, m, o in edges}
    for m, o in sorted(pairs):
        if m < o and (o, m) in pairs:
            bad.append(f"circle between modules {m} and {o}")
    return bad


def main():
    args = sys.argv[1:]
    build = args[args.index("--build") + 1] if "--build" in args else None
    edges = include_graph(ROOT)
    bad = violations(edges) + base_hdf5(ROOT)
    nmods = len({m for _, m, _ in edges})
    print(f"include graph: {len(edges)} cross-module includes over {nmods} modules")
    if build:
        calls = call_graph(build)
        print(f"call graph: {len(calls)} cross-module calls")
        bad += violations(calls)
        bad += exported(build, ROOT)
    for b in bad:
        print("FAIL", b)
    if "--plant" in args:
        with tempfile.TemporaryDirectory() as tmp:
            for top in ("src", "include"):
                shutil.copytree(os.path.join(ROOT, top), os.path.join(tmp, top))
            victim = os.path.join(tmp, "src", "core", "error.c")
            with open(victim, "a", encoding="utf-8") as fh:
                fh.write('\n#include "softntk/deck.h"\n')
            planted = violations(include_graph(tmp))
            hit = [p for p in planted if p.startswith("src/core/error.c")]
            print(f"plant (core/error.c includes the app's deck.h): {'caught' if hit else 'MISSED'}")
            if not hit:
                bad.append("the planted upward include was not caught")
    print("layering:", "FAILED" if bad else "PASSED")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
