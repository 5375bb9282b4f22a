#!/usr/bin/env python3
"""bench/merge-section.py FILE: put the section in FILE (its first line is
"## Title") into bench/RESULTS.md, replacing the section of that title."""
import os
import re
import sys

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "RESULTS.md")
sec = open(sys.argv[1]).read()
title = sec.splitlines()[0]
if not title.startswith("## "):
    sys.exit("merge-section: %s does not start with a '## ' title" % sys.argv[1])
txt = open(out).read() if os.path.exists(out) else (
    "# Benchmark results\n\nWritten by the scripts in bench/; each section by its own script, "
    "all figures of a section from one run on this machine.\n\n")
pat = re.compile(re.escape(title) + r"\n.*?(?=\n## |\Z)", re.S)
if pat.search(txt):
    txt = pat.sub(lambda m: sec.rstrip() + "\n", txt)
else:
    txt = txt.rstrip() + "\n\n" + sec.rstrip() + "\n"
tmp = out + ".tmp"
open(tmp, "w").write(txt)
os.replace(tmp, out)
