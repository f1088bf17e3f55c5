"""The claims report (analysis/report.py, scripts/report.sh) and the README's experiments table.

usage: test_report.py            the report of the tiny variants, rendered in headless Chromium
       test_report.py --readme   the README's table against the published JSONs (no Chromium)

The tiny variants' outputs are those tests/test_experiments.py wrote in this build (its work
directory, experiments.work/runs) when every JSON there is newer than the analysis scripts;
otherwise the tiny sweeps run here (scripts/run_experiment.sh all tiny). Checked:
- every measurement of analysis/claims.py is found in the tiny JSONs (--strict exits 0), the page
  and the PDF are written;
- headless Chromium loads the page (--dump-dom) with one <img> per experiment, each a data URI that
  decodes as a PNG, no 'missing' or invalid-verdict marker, one section per claim, and no console
  message (the page has no script; any CONSOLE line or 'Uncaught' is an error);
- a screenshot is a non-blank PNG; the PDF starts with %PDF-, ends with %%EOF, has pages and holds
  the figures as images;
- planted errors are caught: a measurement's key deleted from a JSON (--strict fails, a missing
  marker appears), a figure deleted (one <img> fewer), a truncated PNG (the decode check fails), a
  page that logs a console error and throws (the console scan finds both);
- --readme: the table in README.md equals the one generated from experiments/*/NAME.json; a
  changed number in either the README or a JSON makes them differ; the conventions an analysis
  writes to (interval dicts, <name>_interval, verdict blocks, null values) are shown as written."""
import base64
import glob
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clitest import SOFTNTK, SOURCE, Suite  # noqa: E402

sys.path.insert(0, os.path.join(SOURCE, "analysis"))
import report  # noqa: E402
from claims import CLAIMS  # noqa: E402

PY = "/usr/bin/python3"
REPORT = os.path.join(SOURCE, "analysis", "report.py")
EXPERIMENTS = sorted({c["experiment"] for c in CLAIMS}
                     | {m["experiment"] for c in CLAIMS for m in c["measures"]
                        if "experiment" in m})


def run_report(args, timeout=300):
    return subprocess.run([PY, REPORT] + args, capture_output=True, text=True, timeout=timeout)


def chromium(args, timeout=120):
    """Headless Chromium with a fresh profile; returns (stdout, stderr, exit code)."""
    profile = tempfile.mkdtemp(prefix="sntk-test-chromium-")
    try:
        p = subprocess.run([report.chromium()] + report.chromium_args(profile)
                           + ["--enable-logging=stderr", "--v=0"] + args,
                           capture_output=True, text=True, timeout=timeout,
                           stdin=subprocess.DEVNULL)
        return p.stdout, p.stderr, p.returncode
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def console_errors(stderr):
    """Console messages of the page (Chromium logs them as ...:CONSOLE:LINE] "text", source:)."""
    return [ln for ln in stderr.splitlines() if ":CONSOLE" in ln or "Uncaught" in ln]


def data_images(dom):
    """The base64 payloads of the <img> data URIs of a dumped DOM."""
    return re.findall(r'<img[^>]*\ssrc="data:image/png;base64,([A-Za-z0-9+/=]+)"', dom)


def png_ok(data):
    """True when the bytes decode fully as a PNG of positive size (Pillow reads every chunk)."""
    from PIL import Image
    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.format != "PNG":
                return False
            im.load()
            return im.size[0] > 0 and im.size[1] > 0
    except Exception:  # any decoder error is a broken figure
        return False


def tiny_results(t):
    """A results directory with every experiment's tiny JSON and PNG."""
    shared = os.path.join(os.path.dirname(os.getcwd()), "experiments.work", "runs")
    scripts = [p for p in glob.glob(os.path.join(SOURCE, "analysis", "*.py"))
               if os.path.basename(p) not in ("report.py", "claims.py")]
    newest = max(os.path.getmtime(p) for p in scripts)
    fresh = all(os.path.isfile(os.path.join(shared, n, "tiny", n + ext))
                and os.path.getmtime(os.path.join(shared, n, "tiny", n + ext)) >= newest
                for n in EXPERIMENTS for ext in (".json", ".png"))
    if fresh:
        print(f"tiny outputs of the experiments test reused ({shared})")
        return shared
    env = dict(os.environ, SNTK_BIN=SOFTNTK)
    p = subprocess.run([os.path.join(SOURCE, "scripts", "run_experiment.sh"), "all", "tiny",
                        "runs"], capture_output=True, text=True, env=env, timeout=900)
    t.check(p.returncode == 0, "tiny sweeps and analyses ran here (run_experiment.sh all tiny)"
            + ("" if p.returncode == 0 else ": " + (p.stdout + p.stderr)[-800:]))
    return os.path.abspath("runs")


def check_page(t, html_path, what, expect_images):
    """Load the page in Chromium; returns (dom, images, console lines)."""
    dom, err, rc = chromium(["--dump-dom", "file://" + os.path.abspath(html_path)])
    t.check(rc == 0 and "</html>" in dom, f"{what}: Chromium loads the page (exit {rc})")
    imgs = data_images(dom)
    t.check(len(imgs) == expect_images,
            f"{what}: {len(imgs)} embedded figures, one per experiment ({expect_images})")
    bad = [i for i, b in enumerate(imgs) if not png_ok(base64.b64decode(b))]
    t.check(imgs and not bad, f"{what}: every figure decodes as a PNG (broken: {bad})")
    cons = console_errors(err)
    t.check(not cons, f"{what}: no console message" + ("" if not cons else ": " + cons[0]))
    return dom, imgs, cons


def test_tiny(t):
    results = tiny_results(t)
    p = run_report(["--strict", "--variant", "tiny", results, "report"])
    t.check(p.returncode == 0, "report --strict of the tiny variants exits 0 (every measurement, "
            "figure and verdict input found)" + ("" if p.returncode == 0 else ":\n" + p.stderr))
    t.check(os.path.getsize("report.html") > 0 and os.path.isfile("report.pdf"),
            "report.html and report.pdf written")
    dom, imgs, _ = check_page(t, "report.html", "tiny report", len(EXPERIMENTS))
    t.check('class="missing"' not in dom and "status invalid" not in dom,
            "no missing marker or invalid verdict on the page")
    sections = re.findall(r'<section class="claim" id="([^"]+)"', dom)
    t.check(sections == [c["id"] for c in CLAIMS],
            f"one section per claim, in the table's order ({len(sections)} of {len(CLAIMS)})")
    statuses = re.findall(r'<span class="status ([a-z-]+)">', dom)
    t.check(len(statuses) == 2 * len(CLAIMS) and all(s != "invalid" for s in statuses),
            "every claim has a valid verdict (summary and section)")
    t.check("src=\"http" not in dom and "href=\"http" not in dom and "<link" not in dom,
            "no external asset")

    _, err, rc = chromium(["--screenshot=" + os.path.abspath("shot.png"), "--window-size=1200,1600",
                           "file://" + os.path.abspath("report.html")])
    ok = rc == 0 and os.path.isfile("shot.png") and png_ok(open("shot.png", "rb").read())
    if ok:
        from PIL import Image
        with Image.open("shot.png") as im:
            lo, hi = im.convert("L").getextrema()
        ok = hi - lo > 100  # text on white: a blank or failed render is one grey level
    t.check(ok, "screenshot: a PNG with content (not one grey level)")

    pdf = open("report.pdf", "rb").read()
    pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
    images = len(re.findall(rb"/Subtype\s*/Image", pdf))
    t.check(pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF"),
            "report.pdf is a complete PDF (%PDF- ... %%EOF)")
    t.check(pages >= 1 and images >= len(EXPERIMENTS),
            f"report.pdf: {pages} pages, {images} images (>= {len(EXPERIMENTS)} figures)")

    # planted errors on a copy of the JSONs and figures
    planted = os.path.abspath("planted")
    for n in EXPERIMENTS:
        os.makedirs(os.path.join(planted, n, "tiny"))
        for ext in (".json", ".png"):
            shutil.copy(os.path.join(results, n, "tiny", n + ext), os.path.join(planted, n, "tiny"))
    conv = os.path.join(planted, "convergence", "tiny", "convergence.json")
    doc = json.load(open(conv))
    for g in doc["groups"]:
        g.pop("rate_ratio_max_dev")
    json.dump(doc, open(conv, "w"))
    os.unlink(os.path.join(planted, "scaling", "tiny", "scaling.png"))
    p = run_report(["--strict", "--no-pdf", "--variant", "tiny", planted, "planted-report"])
    t.check(p.returncode == 1 and "rate_ratio_max_dev" in p.stderr
            and "scaling.png" in p.stderr,
            "planted: a deleted key and a deleted figure make --strict fail, naming both")
    dom, _, _ = chromium(["--dump-dom", "file://" + os.path.abspath("planted-report.html")])
    t.check('class="missing"' in dom, "planted: the page marks the missing cells")
    t.check(len(data_images(dom)) == len(EXPERIMENTS) - 1,
            "planted: the deleted figure is one <img> fewer (the image count check catches it)")
    t.check(not png_ok(base64.b64decode(imgs[0])[:len(base64.b64decode(imgs[0])) // 2]),
            "planted: a truncated PNG fails the decode check")
    with open("console.html", "w") as f:
        f.write("<!DOCTYPE html><html><body><p>planted</p><script>console.error('planted');"
                "throw new Error('planted');</script></body></html>")
    _, err, _ = chromium(["--dump-dom", "file://" + os.path.abspath("console.html")])
    cons = console_errors(err)
    t.check(len(cons) >= 2 and any("Uncaught" in c for c in cons),
            f"planted: a page's console error and exception are found ({len(cons)} lines)")


def test_readme(t):
    readme = os.path.join(SOURCE, "README.md")
    text = open(readme, encoding="utf-8").read()
    evaluated, _ = report.evaluate(os.path.join(SOURCE, "experiments"))
    table = report.readme_table(evaluated)
    diff = report.readme_diff(text, table)
    t.check(not diff, "README.md's experiments table equals the one generated from "
            "experiments/*/NAME.json (scripts/report.sh --publish rewrites it)"
            + ("" if not diff else ":\n    " + "\n    ".join(diff[:12])))
    p = run_report(["--check-readme", readme, os.path.join(SOURCE, "experiments")])
    t.check(p.returncode == (1 if diff else 0), "report.py --check-readme agrees")
    # planted: a number changed in the README, and one changed in a JSON
    _, current, _ = report.readme_split(text)
    m = re.search(r"\d\.\d+", current)
    changed = text.replace(current, current[:m.start()] + "9" + current[m.start() + 1:], 1)
    t.check(report.readme_diff(changed, table) != [], "planted: a README number changed is found")
    work = os.path.abspath("published")
    shutil.copytree(os.path.join(SOURCE, "experiments"), work,
                    ignore=shutil.ignore_patterns("*.png", "*.pdf", "*.html"))
    path = os.path.join(work, "kernel-limit", "kernel-limit.json")
    doc = json.load(open(path))
    first = next(iter(doc["series"].values()))
    first["rms_ratio"][-1] += 0.05          # the README shows this ratio to 3 digits
    json.dump(doc, open(path, "w"))
    ev2, _ = report.evaluate(work)
    t.check(report.readme_diff(text, report.readme_table(ev2)) != [],
            "planted: a JSON number changed makes the README's table differ")
    test_conventions(t, work)


def rows_of(evaluated, cid):
    return next(e for e in evaluated if e["claim"]["id"] == cid)


def test_conventions(t, work):
    """What an experiment's analysis may write, shown as written: an interval dict in place of a
    fitted number, a sibling <name>_interval, a verdict block per claim or per experiment (an
    invalid status is flagged), a null value (not computed), and a deleted key (missing)."""
    path = os.path.join(work, "kernel-limit", "kernel-limit.json")
    doc = json.load(open(path))
    first = next(iter(doc["series"].values()))
    first["fit_fro"]["slope"] = {"estimate": -0.4875, "low": -0.52, "high": -0.455, "level": 0.95,
                                 "seeds": 32}
    doc["verdict"] = {"status": "pre-asymptotic", "reason": "planted reason"}
    json.dump(doc, open(path, "w"))
    path = os.path.join(work, "perturbation", "perturbation.json")
    doc = json.load(open(path))
    doc["gd"]["softmax"]["slope_dH_vs_R_interval"] = [1.8, 2.1]
    doc["gd"]["exp"]["slope_dH_vs_R"] = None
    del doc["gd"]["relu"]["slope_dH_vs_R"]
    doc["verdicts"] = {"perturbation": {"status": "supported", "reason": "planted"}}
    json.dump(doc, open(path, "w"))
    path = os.path.join(work, "threshold", "threshold.json")
    doc = json.load(open(path))
    doc["verdict"] = {"status": "proven", "reason": "planted invalid status"}
    json.dump(doc, open(path, "w"))
    ev, sources = report.evaluate(work)
    kl = rows_of(ev, "kernel-limit")
    r = next(r for r in kl["rows"] if "slope" in r["label"])
    t.check(report.value_text(r) == "−0.49" and report.interval_text(r) == "[−0.52, −0.46]"
            and r["seeds"] == "32 seeds",
            f"an interval dict in place of a number: {report.value_text(r)} "
            f"{report.interval_text(r)}, {r['seeds']}")
    t.check(kl["verdict"]["status"] == "pre-asymptotic" and "analysis" in kl["verdict"]["source"],
            "an experiment's 'verdict' block is shown as its analysis wrote it")
    pt = rows_of(ev, "perturbation")
    by = {r["label"].split(":")[0]: r for r in pt["rows"] if "against R along GD" in r["label"]}
    t.check(report.interval_text(by["softmax"]) == "[1.80, 2.10]",
            "a sibling <name>_interval is shown as the interval")
    t.check(by["exp"]["state"] == "null"
            and report.value_text(by["exp"]).startswith("not computed"),
            "a null value is shown as not computed, not as missing")
    t.check(by["relu"]["state"] == "missing", "a deleted key is shown as missing")
    t.check(pt["verdict"]["status"] == "supported",
            "a 'verdicts' block keyed by the claim id is shown")
    th = rows_of(ev, "threshold")
    t.check(th["verdict"].get("missing") and any("threshold: verdict" in m
                                                 for m in report.missing_cells(ev, sources)),
            "an invalid verdict status is flagged (and fails --strict)")


def main():
    readme = sys.argv[1:] == ["--readme"]
    t = Suite("report-readme" if readme else "report")
    if readme:
        test_readme(t)
    elif report.chromium() is None:
        t.check(False, "Chromium found (Debian's chromium; scripts/bootstrap.sh installs it)")
    else:
        test_tiny(t)
    return t.finish()


if __name__ == "__main__":
    sys.exit(main())
