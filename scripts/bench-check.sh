#!/usr/bin/env bash
# Benchmark `gitops-bridge check` on the corpus, side by side with Home Assistant's own
# `check_config` (through ../shared/tools/ha-lab) and yamllint: what each finds and how long
# each takes. Results (markdown tables + raw outputs) go to $OUT; docs/validate.md quotes them.
#
#   scripts/bench-check.sh [CORPUS_DIR]
#
# Environment:
#   CARGO_TARGET_DIR  where the release binary is built (default: target)
#   OUT               results directory (default: $CARGO_TARGET_DIR/bench-check)
#   RUNS              repetitions for our timings (default: 10; the median is reported)
#   NO_HA=1           skip HA's check_config (it needs the ha-lab venv and PyPI for requirements)
#   NO_YAMLLINT=1     skip yamllint (installed into $OUT/venv with pip when missing)
#   HALAB, HALAB_DIR  the ha-lab tool and its directory (defaults: ../shared/tools/ha-lab/halab, ~/ha-lab)
#
# HA's check_config needs every `!secret` defined, so it runs on a copy of each configuration
# with a secrets.yaml made the way CI users make one: the repository's stand-in file
# (travis_secrets.yaml, github_action_secrets.yaml, secrets.fake.yaml) plus a placeholder
# for every name it lacks. Our checker runs on the same copy for the side-by-side columns.
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
CORPUS="$(cd "${1:-$here/../shared/corpus}" && pwd)"
TARGET="${CARGO_TARGET_DIR:-$here/target}"
OUT="${OUT:-$TARGET/bench-check}"
RUNS="${RUNS:-10}"
HALAB="${HALAB:-$here/../shared/tools/ha-lab/halab}"
export HALAB_DIR="${HALAB_DIR:-$HOME/ha-lab}"
mkdir -p "$OUT"

echo "== building the release binary" >&2
(cd "$here" && CARGO_TARGET_DIR="$TARGET" cargo build --release --quiet)
BIN="$TARGET/release/gitops-bridge"

if [[ "${NO_YAMLLINT:-0}" != 1 ]] && ! command -v yamllint >/dev/null; then
  if [[ ! -x "$OUT/venv/bin/yamllint" ]]; then
    echo "== installing yamllint into $OUT/venv" >&2
    python3 -m venv "$OUT/venv" && "$OUT/venv/bin/pip" install --quiet yamllint
  fi
  export PATH="$OUT/venv/bin:$PATH"
fi

export BIN CORPUS OUT RUNS HALAB
exec python3 - <<'PY'
import json, os, re, shutil, statistics, subprocess, sys, tempfile, time

BIN, CORPUS, OUT, RUNS, HALAB = (os.environ[k] for k in ("BIN", "CORPUS", "OUT", "RUNS", "HALAB"))
RUNS = int(RUNS)
NO_HA = os.environ.get("NO_HA") == "1"
NO_YL = os.environ.get("NO_YAMLLINT") == "1" or shutil.which("yamllint") is None
ROOTS = [
    ("CCOSTAN", "CCOSTAN__Home-AssistantConfig/config"),
    ("JamesMcCarthy79", "JamesMcCarthy79__Home-Assistant-Config/config"),
    ("aneisch", "aneisch__home-assistant-config"),
    ("frenck", "frenck__home-assistant-config"),
    ("geekofweek", "geekofweek__homeassistant"),
]
STAND_INS = ["travis_secrets.yaml", "github_action_secrets.yaml", "secrets.fake.yaml"]


def timed(cmd, **kw):
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    return time.perf_counter() - t, p


def rss_kb(cmd):
    p = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, capture_output=True, text=True)
    return int(p.stderr.strip().splitlines()[-1])


def ours(root, extra=()):
    _, p = timed([BIN, "check", root, "--format", "json", *extra])
    return json.loads(p.stdout)


def yaml_lines(root):
    n = 0
    for d, dirs, files in os.walk(root):
        dirs[:] = [x for x in dirs if not x.startswith(".")]
        for f in files:
            if f.endswith((".yaml", ".yml")):
                with open(os.path.join(d, f), "rb") as fh:
                    n += fh.read().count(b"\n")
    return n


def prepared_copy(name, root):
    """A writable copy with a secrets.yaml as CI users make one."""
    dst = os.path.join(tempfile.gettempdir(), "bench-check-ha", name)
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(root, dst, symlinks=True)
    for d, _, files in os.walk(dst):
        os.chmod(d, 0o755)
        for f in files:
            os.chmod(os.path.join(d, f), 0o644)
    used = set()
    for d, dirs, files in os.walk(dst):
        dirs[:] = [x for x in dirs if not x.startswith(".")]
        for f in files:
            if f.endswith((".yaml", ".yml")):
                try:
                    used |= set(re.findall(r"!secret\s+([\w\-]+)", open(os.path.join(d, f), encoding="utf-8").read()))
                except (UnicodeDecodeError, OSError):
                    pass
    text = ""
    for s in STAND_INS:
        if os.path.exists(os.path.join(dst, s)):
            text = open(os.path.join(dst, s), encoding="utf-8").read() + "\n"
            break
    have = set(re.findall(r"^([\w\-]+)\s*:", text, re.M))
    text += "".join(f'{n}: "placeholder"\n' for n in sorted(used - have))
    open(os.path.join(dst, "secrets.yaml"), "w").write(text)
    return dst


def ha_check(path):
    t, p = timed([HALAB, "check-config", path], env=dict(os.environ))
    out = p.stdout + p.stderr
    m = re.search(r"check_config exit=(\d+) elapsed=([\d.]+)s", out)
    return (float(m.group(2)) if m else t), (int(m.group(1)) if m else p.returncode), out


results = {"roots": {}}
md = []

# --- ours: timing, memory, findings ----------------------------------------------------------
md.append("| configuration | YAML lines | files loaded | templates | errors / warnings / info | median wall | max RSS |")
md.append("|---|---:|---:|---:|---|---:|---:|")
for name, rel in ROOTS:
    root = os.path.join(CORPUS, rel)
    times = [timed([BIN, "check", root, "--format", "json"])[0] for _ in range(RUNS)]
    rep = ours(root)
    s = rep["summary"]
    rss = rss_kb([BIN, "check", root, "--format", "json"])
    results["roots"][name] = {"ours": s, "median_s": statistics.median(times), "rss_kb": rss,
                              "codes": {}}
    for d in rep["diagnostics"]:
        results["roots"][name]["codes"][d["code"]] = results["roots"][name]["codes"].get(d["code"], 0) + 1
    md.append(f"| {name} | {yaml_lines(root)} | {s['files']} | {s['templates']} | {s['errors']} / {s['warnings']} / {s['info']} | "
              f"{statistics.median(times)*1000:.0f} ms | {rss/1024:.1f} MB |")
whole = []
for _ in range(RUNS):
    t = time.perf_counter()
    for _, rel in ROOTS:
        subprocess.run([BIN, "check", os.path.join(CORPUS, rel), "--format", "json"], capture_output=True)
    whole.append(time.perf_counter() - t)
results["whole_corpus_s"] = {"median": statistics.median(whole), "min": min(whole), "max": max(whole)}
md.append("")
md.append(f"Whole corpus, the five configurations one after another: median {statistics.median(whole)*1000:.0f} ms "
          f"(min {min(whole)*1000:.0f}, max {max(whole)*1000:.0f}) over {RUNS} runs.")

# --- yamllint ----------------------------------------------------------------------------------
if not NO_YL:
    md.append("")
    md.append("| configuration | yamllint (default config) wall | max RSS | findings | of which errors | syntax errors |")
    md.append("|---|---:|---:|---:|---:|---:|")
    for name, rel in ROOTS:
        root = os.path.join(CORPUS, rel)
        t, p = timed(["yamllint", "-f", "parsable", root])
        lines = [l for l in p.stdout.splitlines() if l.strip()]
        errs = [l for l in lines if "[error]" in l]
        syn = [l for l in lines if "syntax error" in l]
        rss = rss_kb(["yamllint", "-f", "parsable", root])
        open(os.path.join(OUT, f"yamllint-{name}.txt"), "w").write(p.stdout)
        results["roots"][name]["yamllint"] = {"s": t, "findings": len(lines), "errors": len(errs), "syntax": len(syn), "rss_kb": rss}
        md.append(f"| {name} | {t:.2f} s | {rss/1024:.1f} MB | {len(lines)} | {len(errs)} | {len(syn)} |")

# --- HA's check_config on prepared copies, and ours on the same copies --------------------------
if not NO_HA:
    md.append("")
    md.append("| configuration | HA check_config wall (warm) | exit | HA errors reported | ours on the same copy: wall | errors / warnings |")
    md.append("|---|---:|---:|---|---:|---|")
    for name, rel in ROOTS:
        copy = prepared_copy(name, os.path.join(CORPUS, rel))
        ha_check(copy)  # first run installs integration requirements (cold); not timed
        t, rc, out = ha_check(copy)
        open(os.path.join(OUT, f"ha-{name}.txt"), "w").write(out)
        reported = [l.strip() for l in out.splitlines() if re.search(r"Invalid config|Integration error|Platform error|Error loading|Package .* setup failed|Unable to", l)]
        tt, _ = timed([BIN, "check", copy, "--format", "json"])
        rep = ours(copy)
        results["roots"][name]["ha"] = {"s": t, "exit": rc, "reported": reported[:50]}
        results["roots"][name]["ours_same_copy"] = rep["summary"]
        md.append(f"| {name} | {t:.1f} s | {rc} | {len(reported)} lines (see ha-{name}.txt) | {tt*1000:.0f} ms | "
                  f"{rep['summary']['errors']} / {rep['summary']['warnings']} |")

json.dump(results, open(os.path.join(OUT, "results.json"), "w"), indent=2)
open(os.path.join(OUT, "results.md"), "w").write("\n".join(md) + "\n")
print("\n".join(md))
print(f"\nraw outputs and results.json in {OUT}", file=sys.stderr)
PY
