#!/usr/bin/env python3
"""Prints the Markdown table in docs/formats.md: for each decoder, which
canonical fields and Sigma logsources its events carry, measured by running
`koban parse -o jsonl` over the real samples in ../shared/data and the demo.

usage: scripts/formats-table.py build/koban
"""
import collections, glob, json, os, subprocess, sys

koban = sys.argv[1]
companions = (".expected", ".assert", ".annotated.txt", ".rb", ".csv", "schema.json", ".tsv", ".md")
inputs = ["demo/incident"] + sorted(
    f for f in glob.glob("../shared/data/logs/*/*") + glob.glob("../shared/data/windows-events/*")
    if os.path.isfile(f) and not any(c in os.path.basename(f) for c in companions))
fields = collections.defaultdict(collections.Counter)
sources = collections.defaultdict(collections.Counter)
events = collections.Counter()
out = subprocess.run([koban, "parse", "-q", "-o", "jsonl"] + inputs,
                     capture_output=True, text=True).stdout
for line in out.splitlines():
    e = json.loads(line)
    fmt = e["log.format"]
    events[fmt] += 1
    for k in e:
        if k not in ("log.format", "logsource", "log.file.path", "log.offset"):
            fields[fmt][k] += 1
    ls = e.get("logsource", {})
    sources[fmt]["/".join(ls.get(k, "-") for k in ("product", "category", "service"))] += 1

print("| decoder | events | canonical fields seen (share of events) | logsources (product/category/service) |")
print("|---|---|---|---|")
for fmt in sorted(events):
    n = events[fmt]
    fl = ", ".join("`%s` %d%%" % (k, 100 * c // n) for k, c in fields[fmt].most_common())
    ls = ", ".join("%s (%d)" % (k, c) for k, c in sources[fmt].most_common(8))
    print("| %s | %d | %s | %s |" % (fmt, n, fl, ls))
