#!/usr/bin/env python3
"""Differential test data for our YAML loader against PyYAML, the loader Home Assistant uses.

HA reads a file as UTF-8 text with universal newlines and loads it with PyYAML's C loader
(libyaml), falling back to the pure-Python loader when that fails (annotatedyaml's
`_parse_yaml`); this script does the same with HA's custom tags (`!include`, `!secret` ...)
kept as {"tag", "arg"} so only the YAML dialect is compared.

Two case sets live in tests/data/yaml-differential/, one JSON object per line with the
input text and what PyYAML made of it (`expect`):

- suite.jsonl: every `in.yaml` of the official yaml-test-suite (its `data` branch);
- variants.jsonl: documents generated here in the shapes HA configurations take, crossed
  with quoting styles, indentation, comments, tabs, BOM, CRLF/CR and document markers.

`cargo test --test yaml_differential` loads every case with our loader and fails on any
disagreement not listed, with its reason, in known-differences.txt.

    scripts/yaml-differential.py check                # CI: the committed expectations are PyYAML's
    scripts/yaml-differential.py update               # regenerate variants and all expectations
    scripts/yaml-differential.py import-suite DATA    # take in.yaml files from a yaml-test-suite
                                                      # `data` checkout (DATA/<id>/in.yaml)
    scripts/yaml-differential.py compare DIR...       # ad hoc: our loader vs PyYAML on real files

Needs python3 with PyYAML built with libyaml (the PyPI wheels are).
"""
import datetime
import io
import json
import math
import os
import subprocess
import sys
import tempfile

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DATA = os.path.join(ROOT, "tests", "data", "yaml-differential")
HA_TAGS = ["include", "include_dir_list", "include_dir_named", "include_dir_merge_list",
           "include_dir_merge_named", "secret", "env_var", "input"]


def _with_ha_tags(base):
    class Loader(base):
        pass

    def tagged(tag):
        def construct(loader, node):
            # HA's constructors take the argument as a file name, a secret's name ...
            if not isinstance(node, yaml.ScalarNode):
                raise yaml.constructor.ConstructorError(
                    None, None, f"!{tag} needs a scalar argument", node.start_mark)
            # ... and an empty one fails there: no file '', no secret '', no variable ''.
            if not node.value and tag != "input":
                raise yaml.constructor.ConstructorError(
                    None, None, f"!{tag} needs an argument", node.start_mark)
            return {"__tag__": "!" + tag, "arg": node.value}
        return construct

    for t in HA_TAGS:
        Loader.add_constructor("!" + t, tagged(t))
    return Loader


FAST = _with_ha_tags(yaml.CSafeLoader) if yaml.__with_libyaml__ else None
PYTHON = _with_ha_tags(yaml.SafeLoader)


def canon(v):
    """The JSON form both sides compare (tests/yaml_differential.rs builds the same)."""
    if isinstance(v, dict):
        if "__tag__" in v and len(v) == 2:
            return {"tag": v["__tag__"], "arg": v["arg"]}
        return {"map": [[canon(k), canon(x)] for k, x in v.items()]}
    if isinstance(v, (list, tuple)):
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
    if isinstance(v, (bytes, set)):
        return {"python": type(v).__name__}
    return v


def pyyaml(data: bytes):
    """What HA's loader makes of these bytes: {"ok": true, "value": ...} or {"ok": false, ...}."""
    def load(loader):
        text = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8")  # universal newlines
        return yaml.load(text, Loader=loader)

    try:
        try:
            if FAST is None:
                raise yaml.YAMLError("no libyaml")
            value = load(FAST)
        except yaml.YAMLError:
            value = load(PYTHON)
        return {"ok": True, "value": canon(value)}
    except Exception as e:  # noqa: BLE001 - any refusal is a refusal
        first = str(e).splitlines()[0] if str(e) else ""
        return {"ok": False, "error": f"{type(e).__name__}: {first}"}


# --- generated variants -------------------------------------------------------------------

def variants():
    """(name, text) pairs: HA-shaped documents, each also under document-level changes."""
    bases = list(_bases())
    out = []
    for i, (name, text) in enumerate(bases):
        out.append((name, text))
        wraps = DOC_WRAPS if i % 4 == 0 else [DOC_WRAPS[i % len(DOC_WRAPS)]]
        for wname, wrap in wraps:
            out.append((f"{name}+{wname}", wrap(text)))
    return out


DOC_WRAPS = [
    ("crlf", lambda t: t.replace("\n", "\r\n")),
    ("cr", lambda t: t.replace("\n", "\r")),
    ("bom", lambda t: "\ufeff" + t),
    ("bom-crlf", lambda t: "\ufeff" + t.replace("\n", "\r\n")),
    ("no-final-newline", lambda t: t.rstrip("\n")),
    ("doc-start", lambda t: "---\n" + t),
    ("doc-start-comment", lambda t: "--- # HA config\n" + t),
    ("doc-end", lambda t: t + "...\n"),
    ("directive", lambda t: "%YAML 1.1\n---\n" + t),
    ("leading-comments", lambda t: "# comment\n\n#another\n" + t),
    ("trailing-blank-lines", lambda t: t + "\n\n   \n"),
    ("trailing-spaces", lambda t: t.replace("\n", "  \n")),
    ("trailing-tabs", lambda t: t.replace("\n", "\t\n")),
    ("indented-4", lambda t: "root:\n" + "".join("    " + l if l.strip() else l
                                                 for l in t.splitlines(keepends=True))),
]


def _bases():
    yield from _quoted_multiline()
    yield from _comments()
    yield from _tabs()
    yield from _plain_types()
    yield from _block_scalars()
    yield from _indentation()
    yield from _keys_anchors()
    yield from _templates()
    yield from _markers()
    yield from _unicode()


def _quoted_multiline():
    # A long `value_template: "..."` broken over lines, the continuation at every column,
    # under keys at several depths.
    for q in ['"', "'"]:
        qn = "dq" if q == '"' else "sq"
        for depth in range(3):
            pad = "  " * depth
            head = "".join("  " * d + f"k{d}:\n" for d in range(depth))
            for cont in [0, 1, 2, 4, 6, 8, 12]:
                c = " " * cont
                yield (f"quoted-{qn}-depth{depth}-cont{cont}",
                       f"{head}{pad}value_template: {q}{{{{ states('sensor.a') | float(0)\n"
                       f"{c}> 3 }}}}{q}\n{pad}other: 1\n")
            yield (f"quoted-{qn}-depth{depth}-blank-line",
                   f"{head}{pad}msg: {q}first\n\n{pad}  second{q}\n")
            yield (f"quoted-{qn}-depth{depth}-tab-cont",
                   f"{head}{pad}msg: {q}first\n\tsecond{q}\n")
            yield (f"quoted-{qn}-depth{depth}-trailing-space",
                   f"{head}{pad}msg: {q}first   \n{pad}   second {q}\n")
            yield (f"quoted-{qn}-depth{depth}-three-lines-decreasing",
                   f"{head}{pad}msg: {q}one\n{pad}      two\n{pad}  three\nfour{q}\n")
            yield (f"quoted-{qn}-depth{depth}-in-list",
                   f"{head}{pad}- {q}one\n{pad}two{q}\n{pad}- b\n")
        yield (f"quoted-{qn}-key", f"{q}a key{q}: 1\n{q}multi\n line{q}: 2\n")
        yield (f"quoted-{qn}-doc-marker-inside", f"a: {q}x\n---\ny{q}\n")
        yield (f"quoted-{qn}-dots-inside", f"a: {q}x\n... y{q}\n")
    yield ("quoted-dq-escaped-break", 'a: "one \\\n  two"\n')
    yield ("quoted-dq-escaped-break-col0", 'a: "one\\\ntwo"\n')
    yield ("quoted-dq-escapes", 'a: "\\t\\n\\x41\\u00e9\\U0001F600\\"\\\\\\/\\ \\_\\N\\L\\P\\e\\0"\n')
    yield ("quoted-dq-bad-escape", 'a: "\\q"\n')
    yield ("quoted-sq-escaped-quote", "a: 'it''s'\nb: ''''\n")
    yield ("quoted-sq-backslash", "a: 'C:\\path\\n'\n")


def _comments():
    values = {
        "sq": "'#434954'", "dq": '"#fff"', "plain": "value", "flowseq": "[a, b]",
        "flowmap": "{a: 1}", "int": "12", "empty": "", "anchor": "&x val", "tagged": "!secret pw",
    }
    seps = {"space": " # c", "none": "# c", "tab": "\t# c", "two": "  #c"}
    for vn, v in values.items():
        for sn, s in seps.items():
            yield f"comment-after-{vn}-{sn}", f"key: {v}{s}\nnext: 1\n"
    for sn, s in seps.items():
        yield f"comment-after-block-indicator-{sn}", f"key: >{s}\n  text\n"
        yield f"comment-after-literal-keep-{sn}", f"key: |+{s}\n  text\n\n"
        yield f"comment-after-dash-{sn}", f"-{s}\n- a\n"
        yield f"comment-after-flow-comma-{sn}", f"key: [a,{s}\n  b]\n"
        yield f"comment-after-flow-open-{sn}", f"key: [{s}\n  a]\n"
        yield f"comment-after-colon-{sn}", f"key:{s}\n  a: 1\n"
        yield f"comment-after-doc-start-{sn}", f"---{s}\na: 1\n"
    yield "comment-inside-plain-hash", "a: b#c\nb: b #c\n"
    yield "comment-between-plain-lines", "a: one\n  # c\n  two\n"
    yield "comment-at-col0-in-nested", "a:\n  b: 1\n# c\n  c: 2\n"
    yield "comment-indented-in-list", "l:\n  - a\n    # c\n  - b\n"
    yield "comment-in-block-scalar-less-indented", "a: |\n    text\n  # not a comment?\nb: 1\n"
    yield "comment-in-block-scalar-col0", "a: |\n  text\n# c\nb: 1\n"
    yield "comment-after-alias", "a: &x 1\nb: *x# c\nc: *x # c\n"
    yield "comment-url-fragment", "url: http://example.com/#frag\n"


def _tabs():
    yield "tab-after-colon", "key:\tvalue\n"
    yield "tab-after-colon-space", "key: \tvalue\n"
    yield "tab-inside-plain", "key: a\tb\n"
    yield "tab-before-comment", "key: value\t# c\n"
    yield "tab-indent-mapping", "a:\n\tb: 1\n"
    yield "tab-indent-after-space", "a:\n  \tb: 1\n"
    yield "tab-after-dash", "-\tvalue\n"
    yield "tab-in-flow", "a: [b,\tc]\n"
    yield "tab-indent-in-flow", "a: [\n\tb,\n\tc]\n"
    yield "tab-in-dq", 'a: "x\ty"\n'
    yield "tab-in-sq", "a: 'x\ty'\n"
    yield "tab-in-block-scalar", "a: |\n  x\ty\n  \tz\n"
    yield "tab-blank-line-in-block-scalar", "a: |\n  x\n\t\n  y\n"
    yield "tab-only-line", "a: 1\n\t\nb: 2\n"
    yield "tab-blank-line-in-mapping", "a:\n  b: 1\n\t\n  c: 2\n"
    yield "tab-after-key-before-colon", "key\t: value\n"
    yield "tab-after-question", "?\ta\n: b\n"
    yield "tab-trailing-after-quoted", "a: 'x'\t\nb: \"y\"\t\n"


PLAIN_SCALARS = [
    "on", "off", "On", "OFF", "yes", "no", "Yes", "NO", "y", "n", "Y", "N", "true", "false",
    "True", "FALSE", "tRue", "null", "Null", "NULL", "~", "", "0", "-0", "+1", "007", "0755",
    "08", "0o17", "0x1F", "0X1f", "0b101", "1_000", "1,000", "10:30", "1:30:00", "-1:30",
    "190:20:30.15", "1e3", "1E3", "1.0e3", "1.0e+3", "-1.5e-3", ".5", "1.", "-.5", "+.inf",
    ".inf", "-.Inf", ".NaN", ".nan", "1.2.3", "0.1.0", "2024-01-01", "2024-1-1",
    "2024-01-01 10:00:00", "2024-01-01T10:00:00Z", "2024-01-01t10:00:00.5+01:00",
    "2024-13-01", "2024-02-30", "12:00", "=", "<<", "@home", "`x`", "%x", "!", "!!str 1",
    "!!int '1'", "!!float 1", "!!bool yes", "!!null ''", "a: b", "a:b", "a :b", "-a", "- a",
    "?a", "? a", "*", "&", "|x", ">x", "#x", "a #x", "x#", "'x' y", '"x" y', "[a", "{a",
    "]", "a]", "a}", "a,b", "{{ x }}", "{% if x %}", "0.", "00", "0_1", "1__0", "+0x1",
    "-0b1", "0o8", "+", "-", ".", "..", "...x", "--- x", "-- x",
]


def _plain_types():
    for i, s in enumerate(PLAIN_SCALARS):
        yield f"plain-{i:03}", f"k: {s}\n"
        if i % 3 == 0:
            yield f"plain-{i:03}-in-flow", f"k: [{s}]\n"
            yield f"plain-{i:03}-as-key", f"{s}: v\n"


def _block_scalars():
    for ind in ["|", ">", "|-", ">-", "|+", ">+", "|2", ">1-", "|-2", "|9"]:
        n = ind.replace("|", "lit").replace(">", "fold").replace("+", "keep").replace("-", "strip")
        yield f"block-{n}-simple", f"a: {ind}\n  one\n  two\n\nb: 1\n"
        yield f"block-{n}-more-indented", f"a: {ind}\n  one\n    more\n  two\n"
        yield f"block-{n}-leading-blank-more-spaces", f"a: {ind}\n\n      \n  text\n"
        yield f"block-{n}-leading-spaces-then-less", f"a: {ind}\n \n  \n   \n # comment\nb: 1\n"
        yield f"block-{n}-trailing", f"a: {ind}\n  text\n\n\n"
        yield f"block-{n}-eof", f"a: {ind}\n  text"
        yield f"block-{n}-empty", f"a: {ind}\nb: 1\n"
        yield f"block-{n}-in-list", f"- {ind}\n  text\n- b\n"
    yield "block-template-folded", "value_template: >-\n  {% if is_state('a', 'on') %}\n    yes\n  {% endif %}\n"
    yield "block-less-indented-line", "a:\n    b: |\n      one\n     two\n"
    yield "block-zero-indented-top", "--- |\ntext\n"
    yield "block-first-line-more-indented", "a: >\n    one\n  two\n"


def _indentation():
    yield "seq-same-indent-as-key", "a:\n- 1\n- 2\nb: 3\n"
    yield "seq-nested-same-indent", "a:\n- b:\n  - 1\n  c: 2\n"
    yield "one-space-indent", "a:\n b:\n  c: 1\n d: 2\n"
    yield "mixed-indent-siblings", "a:\n    b: 1\n    c: 2\nd:\n  e: 3\n"
    yield "bad-dedent", "a:\n    b: 1\n  c: 2\n"
    yield "flow-multiline-col0", "a: [b,\nc]\n"
    yield "flow-map-multiline-col0", "a: {b: 1,\nc: 2}\n"
    yield "flow-nested-deep", "a: {b: [1, {c: d}], e: [[], {}]}\n"
    yield "flow-trailing-comma", "a: [b, c, ]\nd: {e: 1, }\n"
    yield "flow-empty-entry", "a: [b, , c]\n"
    yield "flow-implicit-key-multiline", "a: {b\n  : 1}\n"
    yield "flow-quoted-key-multiline", 'a: {"b"\n  : 1}\n'
    yield "flow-json-adjacent-value", 'a: {"b":1, "c":[2]}\n'
    yield "flow-plain-colon-inside", "a: [http://x.y/z, b:c]\n"
    yield "flow-question-key", "a: {? b : c, ?d}\n"
    yield "flow-empty-key", "a: {: b}\n"
    yield "flow-seq-pair", "a: [b: c, d]\n"
    yield "list-of-maps", "- a: 1\n  b: 2\n- c: 3\n"
    yield "list-in-list", "- - a\n  - b\n- - c\n"
    yield "map-after-dash-deeper", "-   a: 1\n    b: 2\n"
    yield "key-no-value", "a:\nb:\n  c:\n"
    yield "value-on-next-line", "a:\n  value\n"
    yield "plain-multiline-value", "a: one\n  two\n   three\n"
    yield "plain-multiline-blank", "a: one\n\n  two\n"
    yield "plain-multiline-col0", "a: one\ntwo\n"
    yield "plain-multiline-key", "a\nb: 1\n"
    yield "empty-document", ""
    yield "only-comment", "# nothing\n"
    yield "only-spaces", "   \n"
    yield "top-level-scalar", "just text\n"
    yield "top-level-list", "- a\n- b\n"
    yield "deep-nesting", "".join("  " * d + f"k{d}:\n" for d in range(40)) + "  " * 40 + "v: 1\n"


def _keys_anchors():
    yield "duplicate-keys", "a: 1\nb: 2\na: 3\n"
    yield "merge-key", "base: &b {x: 1, y: 2}\nc:\n  <<: *b\n  y: 3\n"
    yield "merge-list", "a: &a {x: 1}\nb: &b {y: 2}\nc:\n  <<: [*a, *b]\n"
    yield "merge-scalar", "c:\n  <<: 1\n"
    yield "merge-quoted", "a: &a {x: 1}\nc:\n  '<<': *a\n"
    yield "anchor-names", "a: &a-b_1 1\nb: *a-b_1\n"
    yield "anchor-dot", "a: &a.b 1\nb: *a.b\n"
    yield "anchor-colon", "a: &a:b 1\n"
    yield "anchor-unicode", "a: &é 1\n"
    yield "anchor-redefined", "a: &x 1\nb: &x 2\nc: *x\n"
    yield "alias-undefined", "a: *nope\n"
    yield "alias-as-key", "a: &k key\n*k : v\n"
    yield "anchor-on-map", "a: &m\n  b: 1\nc: *m\n"
    yield "anchor-empty-value", "a: &x\nb: *x\n"
    yield "complex-key", "? [a, b]\n: c\n"
    yield "complex-key-map", "? {a: 1}\n: c\n"
    yield "explicit-key-empty", "?\n: c\n"
    yield "colon-no-key", ": a\n"
    yield "key-with-colon", "'a:b': 1\na:b: 2\n"
    yield "key-with-spaces", "a b c: 1\n  spaced  : 2\n"
    yield "key-ending-colon", "a:: 1\n"
    yield "key-numeric", "1: a\n0x1: b\n1.5: c\non: d\n~: e\n"
    yield "key-long", "k" * 1100 + ": 1\n"
    yield "tags-ha", "a: !secret pw\nb: !include x.yaml\nc: !env_var HOME\nd: !include_dir_named dir\n"
    yield "tags-ha-quoted-arg", "a: !secret 'pw'\nb: !include \"x y.yaml\"\n"
    yield "tags-quoted-as-string", 'mac: "!secret tv_mac"\n'
    yield "tags-unknown", "a: !foo bar\n"
    yield "tags-core", "a: !!str 1\nb: !!int '7'\nc: !!float '1'\nd: !!bool 'yes'\ne: !!null ''\n"
    yield "tags-core-bad", "a: !!int x\n"
    yield "tags-verbatim", "a: !<tag:yaml.org,2002:str> 1\n"
    yield "tags-on-collections", "a: !!map {b: 1}\nc: !!seq [1]\n"
    yield "tags-ha-on-map", "a: !include\n  b: 1\n"
    yield "tags-ha-empty", "a: !secret\n"


def _templates():
    yield "template-dq", "value_template: \"{{ states('sensor.x') | float > 3 }}\"\n"
    yield "template-sq", "value_template: '{{ states(\"sensor.x\") }}'\n"
    yield "template-plain-brace", "value_template: {{ states('sensor.x') }}\n"
    yield "template-plain-percent", "value_template: {% if true %}a{% endif %}\n"
    yield "template-in-list", "- service: light.turn_on\n  data:\n    brightness: \"{{ 255 }}\"\n"
    yield "template-sq-doubled", "msg: '{{ ''a'' }}'\n"
    yield "template-multiline-sq", "msg: '{{ states(\"a\")\n  }}'\n"
    yield "template-folded-strip", "msg: >-\n  {{ a }}\n  {{ b }}\n"
    yield "automation-shape", (
        "- id: '1700000000000'\n  alias: Lights at sunset\n  trigger:\n  - platform: sun\n"
        "    event: sunset\n    offset: -00:30:00\n  condition: []\n  action:\n"
        "  - service: light.turn_on\n    target:\n      entity_id: light.living\n"
        "  mode: single\n")
    yield "sensor-shape", (
        "sensor:\n  - platform: template\n    sensors:\n      t:\n"
        "        value_template: \"{{ (states('sensor.a') | float(0) * 1.8 + 32)\n"
        "          | round(1) }}\"\n        unit_of_measurement: '°F'\n")


def _markers():
    yield "two-documents", "a: 1\n---\nb: 2\n"
    yield "doc-end-then-content", "a: 1\n...\nb: 2\n"
    yield "doc-start-content-same-line", "--- a\n"
    yield "doc-start-map-same-line", "--- a: 1\n"
    yield "doc-start-no-space", "---a: 1\n"
    yield "dots-in-value", "a: ...\nb: x...\n"
    yield "dashes-in-value", "a: ---\nb: - - -\n"
    yield "doc-end-only", "...\n"
    yield "doc-start-only", "---\n"
    yield "directive-tag", "%TAG !e! tag:example.com,2000:\n---\na: !e!x 1\n"
    yield "directive-without-doc", "%YAML 1.1\n"
    yield "directive-yaml-12", "%YAML 1.2\n---\na: 1\n"


def _unicode():
    yield "unicode-value", "name: Küche 🔥\n"
    yield "unicode-key", "Küche: 1\n"
    yield "unicode-nbsp", "a: x\u00a0y\n"
    yield "unicode-nel-in-dq", 'a: "x\u0085y"\n'
    yield "unicode-ls-in-plain", "a: x\u2028y\n"
    yield "unicode-bom-inside", "a: 1\n\ufeffb: 2\n"
    yield "unicode-zero-width", "a: x\u200by\n"
    yield "unicode-control-del", "a: x\x7fy\n"
    yield "unicode-control-bell", "a: x\x07y\n"
    yield "unicode-astral-escape", 'a: "\\U0001F600"\n'


# --- the commands -------------------------------------------------------------------------

def read_cases(name):
    path = os.path.join(DATA, name)
    if not os.path.exists(path):
        return []
    return [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]


def write_cases(name, cases):
    with open(os.path.join(DATA, name), "w", encoding="utf-8", newline="\n") as f:
        for c in cases:
            f.write(json.dumps(c, ensure_ascii=False, sort_keys=True) + "\n")


def expected(cases):
    return [dict(c, expect=pyyaml(c["text"].encode("utf-8"))) for c in cases]


def fresh():
    suite = expected([{"name": c["name"], "text": c["text"]} for c in read_cases("suite.jsonl")])
    gen = expected([{"name": n, "text": t} for n, t in variants()])
    return suite, gen


def need_libyaml():
    if not yaml.__with_libyaml__:
        sys.exit("PyYAML without libyaml: HA loads with the C loader first; "
                 "install a PyYAML wheel (pip install pyyaml) to compare like HA")


def cmd_update():
    need_libyaml()
    suite, gen = fresh()
    write_cases("suite.jsonl", suite)
    write_cases("variants.jsonl", gen)
    print(f"wrote {len(suite)} suite cases and {len(gen)} variants (PyYAML {yaml.__version__})")


def cmd_check():
    need_libyaml()
    suite, gen = fresh()
    bad = 0
    for name, new in [("suite.jsonl", suite), ("variants.jsonl", gen)]:
        old = {c["name"]: c for c in read_cases(name)}
        now = {c["name"]: c for c in new}
        for n in sorted(set(old) | set(now)):
            if old.get(n) != now.get(n):
                bad += 1
                why = "missing" if n not in old else "not generated" if n not in now else "differs"
                print(f"{name}: {n}: {why}; was {old.get(n, {}).get('expect')}, "
                      f"PyYAML {yaml.__version__} says {now.get(n, {}).get('expect')}")
    if bad:
        print(f"{bad} cases out of date: run scripts/yaml-differential.py update and review the diff")
        sys.exit(1)
    print(f"yaml differential data: {len(suite)} suite cases and {len(gen)} variants "
          f"agree with PyYAML {yaml.__version__}")


def cmd_import_suite(data_dir):
    cases = []
    for root, _dirs, names in sorted(os.walk(data_dir)):
        if "in.yaml" in names:
            rel = os.path.relpath(root, data_dir).replace(os.sep, "-")
            raw = open(os.path.join(root, "in.yaml"), "rb").read()
            try:
                cases.append({"name": rel, "text": raw.decode("utf-8")})
            except UnicodeDecodeError:
                print(f"skipping {rel}: not UTF-8")
    cases.sort(key=lambda c: c["name"])
    write_cases("suite.jsonl", expected(cases))
    print(f"imported {len(cases)} cases from {data_dir}")


def cmd_compare(dirs):
    files = []
    for d in dirs:
        for root, subdirs, names in os.walk(d):
            subdirs[:] = sorted(x for x in subdirs if not x.startswith("."))
            files += [os.path.join(root, n) for n in sorted(names) if n.endswith((".yaml", ".yml"))]
    with tempfile.TemporaryDirectory() as tmp:
        lst, out = os.path.join(tmp, "files"), os.path.join(tmp, "out.jsonl")
        open(lst, "w").write("\n".join(os.path.abspath(f) for f in files))
        env = dict(os.environ, DIALECT_FILES=lst, DIALECT_OUT=out)
        subprocess.run(["cargo", "test", "-q", "--test", "yaml_differential", "--",
                        "--ignored", "dump_files_for_compare"],
                       cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
        ours = {r["file"]: r for r in map(json.loads, open(out))}
    bad = 0
    for f in files:
        a = os.path.abspath(f)
        py, r = pyyaml(open(a, "rb").read()), ours.get(a)
        if r is None:
            continue
        if py["ok"] != r["ok"]:
            bad += 1
            print(f"ACCEPT DIFF {f}: pyyaml={'ok' if py['ok'] else py['error']} "
                  f"ours={'ok' if r['ok'] else r['error']}")
        elif py["ok"] and py["value"] != r["value"]:
            bad += 1
            print(f"VALUE DIFF {f}")
    print(f"{len(files)} files, {bad} disagreements")
    sys.exit(1 if bad else 0)


def main():
    args = sys.argv[1:]
    if args == ["check"]:
        cmd_check()
    elif args == ["update"]:
        cmd_update()
    elif len(args) == 2 and args[0] == "import-suite":
        cmd_import_suite(args[1])
    elif len(args) >= 2 and args[0] == "compare":
        cmd_compare(args[1:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
