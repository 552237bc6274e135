#!/usr/bin/env python3
"""suricata-tls-only.py -- write a Suricata config that logs TLS only, for BENCHMARKING.md.

    scripts/suricata-tls-only.py [BASE_YAML] OUT_YAML LOG_DIR

Takes the packaged config (default /etc/suricata/suricata.yaml) and keeps one output: EVE
JSON with `tls` records (extended: SNI, versions, JA3/JA3S, certificate fields). No other
output and no rules (run with `-S /dev/null`), checksum validation off (loopback captures
carry offloaded, invalid checksums), TLS detected on the benchmark's ports too.
Run:  suricata -c OUT_YAML -S /dev/null -k none -r CAPTURE --runmode autofp
"""
import sys
import yaml

args = sys.argv[1:]
if len(args) == 2:
    args.insert(0, "/etc/suricata/suricata.yaml")
if len(args) != 3:
    sys.exit(__doc__)
base, out, log_dir = args
with open(base) as f:
    cfg = yaml.safe_load(f)
cfg["default-log-dir"] = log_dir
cfg["outputs"] = [{
    "eve-log": {
        "enabled": True,
        "filetype": "regular",
        "filename": "eve.json",
        "types": [{"tls": {"extended": True}}],
    }
}]
cfg.setdefault("stream", {})["checksum-validation"] = False
tls = cfg.setdefault("app-layer", {}).setdefault("protocols", {}).setdefault("tls", {})
tls["enabled"] = True
tls["detection-ports"] = {"dp": "443, 8443, 8444"}
cfg["rule-files"] = []
with open(out, "w") as f:
    f.write("%YAML 1.1\n---\n")
    yaml.safe_dump(cfg, f, default_flow_style=False, sort_keys=False)
