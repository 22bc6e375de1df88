#!/usr/bin/env python3
"""Compare our YAML loader with PyYAML (the loader HA uses) on every YAML file under DIRs.

    scripts/yaml-dialect-diff.py ../shared/corpus

Needs python3 with PyYAML (the ha-lab venv has it: $HALAB_DIR/venv/bin/python). HA's tags are
kept as {"tag","arg"} on both sides, so only the YAML 1.1 dialect is compared: types of plain
scalars, merge keys, duplicate keys (last wins), anchors, and which files are refused.
Prints every disagreement and a summary; exit 1 if any.
"""
import datetime, json, math, os, subprocess, sys, tempfile
import yaml

Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class L(Loader):
    pass


for t in ["include", "include_dir_list", "include_dir_named", "include_dir_merge_list",
          "include_dir_merge_named", "secret", "env_var", "input"]:
    L.add_constructor("!" + t, (lambda tag: lambda loader, node: {"__tag__": "!" + tag, "arg": node.value})(t))


def canon(v):
    if isinstance(v, dict):
        if "__tag__" in v and len(v) == 2:
            return {"tag": v["__tag__"], "arg": v["arg"]}
        return {"map": [[canon(k), canon(x)] for k, x in v.items()]}
    if isinstance(v, list):
        return [canon(x) for x in v]
    if isinstance(v, bool):
        return {"bool": v}
    if isinstance(v, int):
        return {"int": str(v)}
    if isinstance(v, float):
        if math.isnan(v):
            return {"float": "nan"}
        if math.isinf(v):
            return {"float": "inf" if v > 0 else "-inf"}
        return {"float": v}
    if isinstance(v, (datetime.date, datetime.datetime)):
        return {"date": True}
    if isinstance(v, bytes):
        return v.decode("latin-1")
    return v


def pyload(path):
    try:
        with open(path, encoding="utf-8") as f:
            try:
                return True, canon(yaml.load(f, Loader=L))
            except yaml.YAMLError:
                f.seek(0)
                class PL(yaml.SafeLoader):
                    pass
                PL.yaml_constructors = dict(L.yaml_constructors)
                return True, canon(yaml.load(f, Loader=PL))
    except Exception as e:  # noqa: BLE001 - any refusal counts
        return False, f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"


def main():
    files = []
    for d in sys.argv[1:]:
        for root, dirs, names in os.walk(d):
            dirs[:] = [x for x in dirs if not x.startswith(".")]
            files += [os.path.join(root, n) for n in sorted(names) if n.endswith((".yaml", ".yml"))]
    here = os.path.dirname(os.path.abspath(__file__))
    with tempfile.TemporaryDirectory() as tmp:
        lst, out = os.path.join(tmp, "files"), os.path.join(tmp, "out.jsonl")
        open(lst, "w").write("\n".join(os.path.abspath(f) for f in files))
        env = dict(os.environ, DIALECT_FILES=lst, DIALECT_OUT=out)
        subprocess.run(["cargo", "test", "-q", "--test", "check_dialect", "--", "--ignored"],
                       cwd=os.path.dirname(here), env=env, check=True, stdout=subprocess.DEVNULL)
        ours = {r["file"]: r for r in map(json.loads, open(out))}
    bad = 0
    for f in files:
        a = os.path.abspath(f)
        ok, val = pyload(a)
        r = ours.get(a)
        if r is None:
            continue
        if ok != r["ok"]:
            bad += 1
            print(f"ACCEPT DIFF {f}: pyyaml={'ok' if ok else val} ours={'ok' if r['ok'] else r['error']}")
        elif ok and val != r["value"]:
            bad += 1
            print(f"VALUE DIFF {f}: {first_diff(val, r['value'])}")
    print(f"{len(files)} files, {bad} disagreements")
    sys.exit(1 if bad else 0)


def first_diff(a, b, path="$"):
    if type(a) != type(b):
        i = next((i for i, (x, y) in enumerate(zip(str(a), str(b))) if x != y), min(len(str(a)), len(str(b)))); return f"{path}: pyyaml={str(a)[max(0,i-30):i+30]!r} ours={str(b)[max(0,i-30):i+30]!r}"
    if isinstance(a, dict):
        for k in a:
            if k not in b:
                return f"{path}.{k} missing"
            if a[k] != b[k]:
                return first_diff(a[k], b[k], f"{path}.{k}")
        return f"{path}: keys differ"
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{path}: len {len(a)} vs {len(b)}; py={str(a)[:200]} ours={str(b)[:200]}"
        for i, (x, y) in enumerate(zip(a, b)):
            if x != y:
                return first_diff(x, y, f"{path}[{i}]")
    i = next((i for i, (x, y) in enumerate(zip(str(a), str(b))) if x != y), min(len(str(a)), len(str(b)))); return f"{path}: pyyaml={str(a)[max(0,i-30):i+30]!r} ours={str(b)[max(0,i-30):i+30]!r}"


if __name__ == "__main__":
    main()
