#!/usr/bin/env python3
"""Regenerate src/validate/references/ha_integrations.tsv from an installed Home Assistant core.

Run with the Python that has `homeassistant` installed (the ha-lab venv):
    $HALAB_DIR/venv/bin/python scripts/gen-ha-data.py > src/validate/references/ha_integrations.tsv

Columns: domain, merge (how `homeassistant: packages:` merges the domain: list | dict),
entity (y = an entity domain: its ids appear as `<domain>.<object_id>`), services (comma-
separated names from the integration's services.yaml), integration_type (manifest).

The merge column reproduces homeassistant/config.py:merge_packages_config: the config
platform's PACKAGE_MERGE_HINT, then hasattr(component, "PLATFORM_SCHEMA"), then
_identify_config_schema. Integrations whose requirements are not installed cannot be
imported; for them a source scan of CONFIG_SCHEMA decides (`cv.ensure_list` or a list
schema under DOMAIN means list). The scan agrees with the import on the importable ones;
the script prints the disagreements to stderr.
"""
import importlib, json, logging, os, re, signal, sys, warnings

import yaml
import homeassistant
from homeassistant import config as ha_config
from homeassistant.const import Platform

warnings.filterwarnings("ignore")
logging.disable(logging.CRITICAL)
COMP = os.path.join(os.path.dirname(homeassistant.__file__), "components")
PLATFORMS = {p.value for p in Platform}
# Entity domains that are not entity platforms and not EntityComponent users in __init__.
EXTRA_ENTITY = {"group", "zone", "person", "sun", "script", "automation", "input_boolean",
                "input_number", "input_select", "input_text", "input_datetime", "input_button",
                "counter", "timer", "schedule", "proximity", "plant", "alert", "persistent_notification"}


def _timeout(signum, frame):
    raise TimeoutError("import took too long")


signal.signal(signal.SIGALRM, _timeout)


def static_merge(src: str, pkg_dir: str) -> str:
    """Source-scan version of the merge decision, for integrations that cannot be imported."""
    if re.search(r"^PLATFORM_SCHEMA\b", src, re.M) or re.search(
        r"^from \S+ import[^\n]*\bPLATFORM_SCHEMA\b(?! as)|^\s+PLATFORM_SCHEMA,$", src, re.M
    ):
        return "list"
    m = re.search(r"^CONFIG_SCHEMA\s*=(.*?)(?=^\S)", src, re.M | re.S)
    if not m:
        # CONFIG_SCHEMA re-exported from a sibling module (`from .schema import CONFIG_SCHEMA`)
        imp = re.search(r"^from \.(\w+) import[^\n]*\bCONFIG_SCHEMA\b", src, re.M)
        sib = os.path.join(pkg_dir, f"{imp.group(1)}.py") if imp else None
        if sib and os.path.isfile(sib):
            return static_merge(open(sib).read(), pkg_dir)
        return "dict"
    body = m.group(1)
    d = re.search(r"\bDOMAIN\b[^:\n]{0,30}:\s*(.{0,120})", body, re.S)
    if d:
        head = d.group(1).lstrip()
        ensure = r"(?:cv\.ensure_list|(?:vol|probatio)\.EnsureList\(\))"
        if (head.startswith("[") or re.match(ensure, head)
                or re.match(r"(?:vol|probatio)\.(?:Any\(\s*(?:vol|probatio)\.)?All\(\s*" + ensure, head)):
            return "list"
    return "dict"


failed, disagree, out = [], [], []
for d in sorted(os.listdir(COMP)):
    p = os.path.join(COMP, d)
    man = os.path.join(p, "manifest.json")
    if not os.path.isfile(man):
        continue
    try:
        manifest = json.load(open(man))
    except Exception:
        continue
    init = os.path.join(p, "__init__.py")
    src = open(init).read() if os.path.isfile(init) else ""
    hint = None
    cfg = os.path.join(p, "config.py")
    if os.path.isfile(cfg):
        ctext = open(cfg).read()
        m = re.search(r'^PACKAGE_MERGE_HINT\s*=\s*"(\w+)"', ctext, re.M)
        if m and "async_validate_config" in ctext:
            hint = m.group(1)
    stat = static_merge(src, p)
    merge = None
    if hint == "list":
        merge = "list"
    else:
        try:
            signal.alarm(10)
            mod = importlib.import_module(f"homeassistant.components.{d}")
            signal.alarm(0)
            if hasattr(mod, "PLATFORM_SCHEMA"):
                merge = "list"
            elif hasattr(mod, "CONFIG_SCHEMA"):
                merge = ha_config._identify_config_schema(mod) or "dict"
            else:
                merge = "dict"
            if merge != stat:
                disagree.append(f"{d}: import={merge} scan={stat}")
        except BaseException as e:
            signal.alarm(0)
            failed.append(f"{d}: {type(e).__name__} {e}")
            merge = stat
    entity = "y" if (d in PLATFORMS or d in EXTRA_ENTITY or "EntityComponent(" in src
                     or "EntityComponent[" in src) else "n"
    services = []
    sy = os.path.join(p, "services.yaml")
    if os.path.isfile(sy):
        try:
            data = yaml.safe_load(open(sy)) or {}
            services = sorted(k for k in data if isinstance(k, str) and not k.startswith("."))
        except Exception:
            pass
    out.append((d, merge, entity, ",".join(services), manifest.get("integration_type", "")))

print(f"# generated by scripts/gen-ha-data.py from homeassistant=={homeassistant.const.__version__}")
print("# domain\tmerge\tentity\tservices\tintegration_type")
for row in out:
    print("\t".join(row))
print(f"{len(failed)} modules not importable (source scan used)", file=sys.stderr)
print(f"{len(disagree)} scan/import disagreements:", *disagree, sep="\n", file=sys.stderr)
