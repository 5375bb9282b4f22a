#!/usr/bin/env python3
"""Audit logs with known contents for the sefaca-stats and sefaca-clean tests.

  auditlog.py gen N SEED START_EPOCH STEP_SECONDS > log    records (DESIGN.md "Audit log")
  auditlog.py expect [--by=command] < log                  the summary sefaca-stats must print (JSON)
  auditlog.py compare EXPECTED.json GOT.json               exit 1 with the differences
  auditlog.py mutate N SEED < log > mutated                lines with random damage (no newlines added)
  auditlog.py valid < file                                 "RECORDS CORRUPT" by Python's json module
  auditlog.py writer LOG N TAG                             append N records as the writer does
                                                           (O_APPEND, flock, reopen if rotated)
"""
import datetime
import fcntl
import json
import math
import os
import random
import sys

KINDS = ["network_access_denied", "syscall_denied", "blocked_command", "landlock_denied"]
CMDS = [["make", "-j8"], ["python3", "x.py"], ["/usr/bin/gcc", "-c", "a.c"], ["sh -c 'echo hi'"],
        ["npm", "test"], ["evil\u001b[2J", "\"quoted\""]]


def iso(ts):
    d = datetime.datetime.fromtimestamp(ts, datetime.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (round(ts * 1000) % 1000)


def record(r, i, ts):
    ec = r.choice([0, 0, 0, 0, 1, 2, 127])
    to = r.random() < 0.05
    oom = (not to) and r.random() < 0.03
    viol = []
    for k in KINDS:
        if r.random() < 0.06:
            viol.append({"violation": k, "detail": "d%d" % i, "action": "blocked", "suggestion": "s"})
    res = {"exit_code": None if (to or oom) else ec, "signal": 9 if (to or oom) else None,
           "duration": round(r.random() * 100, 3) if r.random() > 0.01 else None,
           "timed_out": to, "oom_killed": oom}
    if r.random() < 0.5:
        res["status"] = 124 if to else (137 if oom else ec)
    return {"timestamp": iso(ts), "id": "r-%08x" % i, "applet": r.choice(["run", "run", "shell", "make"]),
            "pid": 1000 + i, "user": "alice", "cwd": "/home/alice/p \"q\"", "command": r.choice(CMDS),
            "config": {"level": r.choice(["default", "strict", "permissive"]),
                       "preset": r.choice([None, "compiler", "testing"]),
                       "policy": r.choice([None, "hardened"]), "network": "localhost", "timeout": 120},
            "layers": {"userns": True, "seccomp": True, "landlock": 7, "limits": "rlimit"},
            "resources": {"max_memory": r.randrange(1 << 20, 1 << 31), "cpu_time": round(r.random() * 50, 3),
                          "pids_peak": r.randrange(1, 30)},
            "result": res, "violations": viol}


def gen(n, seed, start, step):
    r = random.Random(seed)
    for i in range(n):
        sys.stdout.write(json.dumps(record(r, i, start + i * step), separators=(",", ":")) + "\n")


def status(rec):
    res = rec.get("result") or {}
    if isinstance(res.get("status"), int):
        return res["status"]
    if res.get("timed_out"):
        return 124
    if res.get("signal"):
        return 128 + res["signal"]
    if isinstance(res.get("exit_code"), int):
        return res["exit_code"]
    return -1


def program(rec):
    c = rec["command"][0] if isinstance(rec["command"], list) else rec["command"]
    w = c.strip().split()
    w = w[0] if w else "-"
    return w.rsplit("/", 1)[-1] or w


def pct(vals, p):
    if not vals:
        return None
    vals = sorted(vals)
    rank = max(1, math.ceil(p * len(vals) / 100))
    return vals[rank - 1]


def agg(recs):
    durs = [x["result"]["duration"] for x in recs if x["result"].get("duration") is not None]
    a = {"runs": len(recs), "failed": sum(1 for x in recs if status(x) != 0),
         "timeouts": sum(1 for x in recs if x["result"].get("timed_out")),
         "oom_kills": sum(1 for x in recs if x["result"].get("oom_killed")),
         "blocked": sum(1 for x in recs if any(v["violation"] == "blocked_command" for v in x["violations"])),
         "violations": sum(len(x["violations"]) for x in recs),
         "runs_with_violations": sum(1 for x in recs if x["violations"]),
         "duration": {"count": len(durs), "p50": pct(durs, 50), "p95": pct(durs, 95),
                      "max": max(durs) if durs else None},
         "max_memory": max((x["resources"]["max_memory"] for x in recs), default=None),
         "cpu_time": round(sum(x["resources"]["cpu_time"] for x in recs), 3)}
    a["succeeded"] = a["runs"] - a["failed"]
    return a


def expect(by):
    recs = [json.loads(l) for l in sys.stdin if l.strip()]
    kinds = {}
    for x in recs:
        for v in x["violations"]:
            kinds[v["violation"]] = kinds.get(v["violation"], 0) + 1
    out = {"records": len(recs), "totals": agg(recs), "violations_by_kind": kinds}
    if by:
        keyf = {"command": program, "applet": lambda x: x["applet"],
                "level": lambda x: x["config"]["level"],
                "preset": lambda x: x["config"]["preset"] or "-"}[by]
        groups = {}
        for x in recs:
            groups.setdefault(keyf(x), []).append(x)
        out["groups"] = {k: agg(v) for k, v in groups.items()}
    json.dump(out, sys.stdout)


def compare(exp_file, got_file):
    exp = json.load(open(exp_file))
    got = json.load(open(got_file))
    bad = []

    def cmp_agg(where, e, g):
        for k, v in e.items():
            if k == "duration":
                for dk, dv in v.items():
                    gv = g["duration"][dk]
                    if (dv is None) != (gv is None) or (dv is not None and abs(dv - gv) > 1e-9):
                        bad.append("%s.duration.%s: want %r got %r" % (where, dk, dv, gv))
            elif k == "cpu_time":
                if abs(v - g[k]) > 1e-6:
                    bad.append("%s.%s: want %r got %r" % (where, k, v, g[k]))
            elif g.get(k) != v:
                bad.append("%s.%s: want %r got %r" % (where, k, v, g.get(k)))

    if got["source"]["records"] != exp["records"]:
        bad.append("records: want %d got %d" % (exp["records"], got["source"]["records"]))
    cmp_agg("totals", exp["totals"], got["totals"])
    if got["violations_by_kind"] != exp["violations_by_kind"]:
        bad.append("violations_by_kind: want %r got %r" % (exp["violations_by_kind"], got["violations_by_kind"]))
    if "groups" in exp:
        gg = {g["key"]: g for g in got.get("groups", [])}
        if set(gg) != set(exp["groups"]):
            bad.append("group keys: want %r got %r" % (sorted(exp["groups"]), sorted(gg)))
        for k, e in exp["groups"].items():
            if k in gg:
                cmp_agg("group[%s]" % k, e, gg[k])
    if bad:
        print("\n".join(bad[:20]))
        sys.exit(1)


def mutate(n, seed):
    r = random.Random(seed)
    lines = [l.rstrip("\n") for l in sys.stdin if l.strip()]
    alphabet = "{}[]\":,\\ tfn0123456789-.eEux\t\x01\x7f\u00e9"
    for i in range(n):
        s = list(r.choice(lines))
        for _ in range(r.randrange(0, 4)):
            op = r.randrange(4)
            pos = r.randrange(len(s))
            if op == 0:
                s[pos] = r.choice(alphabet)
            elif op == 1:
                del s[pos]
            elif op == 2:
                s.insert(pos, r.choice(alphabet))
            else:
                s = s[:pos]
                if not s:
                    s = ["{"]
        sys.stdout.write("".join(s).replace("\n", " ") + "\n")


def valid():
    rec = bad = 0

    def no_const(c):
        raise ValueError(c)
    for raw in sys.stdin.buffer:
        line = raw.rstrip(b"\n").decode("utf-8", "surrogateescape")
        if not line.strip(" \t\r"):
            continue
        try:
            obj = json.loads(line, parse_constant=no_const)
            if not isinstance(obj, dict):
                raise ValueError("not an object")
            rec += 1
        except (ValueError, RecursionError):
            bad += 1
    print(rec, bad)


def writer(path, n, tag):
    f = None
    for i in range(n):
        while True:
            if f is None:
                f = open(path, "a")
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                same = os.fstat(f.fileno()).st_ino == os.stat(path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            f.close()  # rotated away while we waited: write to the new file
            f = None
        rec = {"timestamp": iso(datetime.datetime.now().timestamp()), "id": "%s-%d" % (tag, i), "applet": "run",
               "command": ["w", tag], "result": {"exit_code": 0, "duration": 0.5}, "violations": []}
        os.write(f.fileno(), (json.dumps(rec, separators=(",", ":")) + "\n").encode())
        fcntl.flock(f, fcntl.LOCK_UN)
    if f:
        f.close()


if __name__ == "__main__":
    a = sys.argv[1:]
    if a[0] == "gen":
        gen(int(a[1]), int(a[2]), float(a[3]), float(a[4]))
    elif a[0] == "expect":
        expect(a[1].split("=", 1)[1] if len(a) > 1 else None)
    elif a[0] == "compare":
        compare(a[1], a[2])
    elif a[0] == "mutate":
        mutate(int(a[1]), int(a[2]))
    elif a[0] == "valid":
        valid()
    elif a[0] == "writer":
        writer(a[1], int(a[2]), a[3])
