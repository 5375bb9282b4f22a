#!/usr/bin/env bash
# bench/proxy.sh: what the allowlist proxy (--network=allow:HOST) costs, on
# this machine, in one run:
#   - throughput of a local 100 MB HTTP transfer through the proxy (plain
#     HTTP and CONNECT) against the same transfer on the host's network
#     (--network=allow) and outside any sandbox;
#   - the added start-up of --network=allow:HOST over --no-network.
# Interleaved rounds (bench/timeit.c), medians.  Writes its section of bench/RESULTS.md.
#
#   bench/proxy.sh [--quick]    (as an unprivileged user, or as root: it drops to one)
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
if [ "$(id -u)" = 0 ]; then
	user=${SEFACA_TEST_USER:-sefacatest}
	id "$user" >/dev/null 2>&1 || useradd -m -s /bin/bash "$user"
	d=$top; while [ "$d" != / ]; do chmod o+rx "$d"; d=$(dirname "$d"); done
	chmod -R o+rX "$top"
	out=$(mktemp); chmod 666 "$out"
	runuser -u "$user" -- env PATH="$PATH" SEFACA_BENCH_OUT="$out" "$0" "$@"
	"$top/bench/merge-section.py" "$out"; rm -f "$out"
	exit 0
fi
rounds=7 srounds=40 loopn=100 lrounds=5
[ "${1:-}" = --quick ] && { rounds=3 srounds=10 lrounds=2; }
O=${O:-build}
bin=$top/$O/bin
work=$(mktemp -d)
server=
trap '[ -n "$server" ] && kill $server 2>/dev/null; rm -rf "$work"' EXIT
cc -O2 -o "$work/timeit" bench/timeit.c
cd "$work"
mkdir www
head -c 100000000 /dev/zero >www/blob
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# A small origin that sends files with sendfile(2), so that the origin is
# not what limits the transfer (python's http.server copies in 64 KiB steps).
cat >srv.py <<'PY'
import os, socket, sys, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(64)
def serve(c):
    try:
        d = b""
        while b"\r\n\r\n" not in d:
            x = c.recv(4096)
            if not x: return
            d += x
        path = "www/" + (d.split(b" ")[1].decode().lstrip("/") or "index.html")
        size = os.path.getsize(path)
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % size)
        with open(path, "rb") as f: c.sendfile(f)
    except OSError: pass
    finally: c.close()
while True:
    c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
echo ok >www/index.html
python3 srv.py "$port" >/dev/null 2>&1 &
server=$!
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
url=http://127.0.0.1:$port/blob
get=(curl -sS -f -o /dev/null --noproxy '' "$url")

echo "100 MB transfers ($rounds rounds, interleaved)" >&2
"$work/timeit" -n "$rounds" -s 100 -- \
	outside "${get[@]}" ';' \
	host-network "$bin/sefaca-run" -q --network=allow -- "${get[@]}" ';' \
	proxy-http "$bin/sefaca-run" -q --network="allow:127.0.0.1:$port" -- "${get[@]}" ';' \
	proxy-connect "$bin/sefaca-run" -q --network="allow:127.0.0.1:$port" -- "${get[@]}" -p ';' \
	>"$work/xfer"

echo "start-up ($srounds single rounds, $lrounds rounds of $loopn calls, interleaved)" >&2
start=(baseline /bin/true ';'
	no-network "$bin/sefaca-run" -q --no-network -- /bin/true ';'
	allowlist "$bin/sefaca-run" -q --network="allow:127.0.0.1:$port" -- /bin/true ';'
	localhost "$bin/sefaca-run" -q --network=localhost -- /bin/true)
"$work/timeit" -n "$srounds" -s 20 -- "${start[@]}" >"$work/single"
"$work/timeit" -n "$lrounds" -l "$loopn" -- "${start[@]}" >"$work/loop"

# one small request: the proxy's added latency per connection
small=(curl -sS -f -o /dev/null --noproxy '' "http://127.0.0.1:$port/")
echo "one small request per sandbox ($srounds rounds)" >&2
"$work/timeit" -n "$srounds" -s 20 -- \
	host-network "$bin/sefaca-run" -q --network=allow -- "${small[@]}" ';' \
	proxy-http "$bin/sefaca-run" -q --network="allow:127.0.0.1:$port" -- "${small[@]}" >"$work/small"

python3 - "$work/xfer" "$work/single" "$work/loop" "$work/small" "$(uname -r)" "$(nproc)" \
	"$("$top/$O/sefaca" --version | tr '\n' ' ')" "$(curl --version | head -1 | cut -d' ' -f1-2)" \
	"$(cut -d' ' -f1-3 /proc/loadavg)" >"$work/section" <<'PY'
import sys
xfer, single, loop, small, kernel, ncpu, ver, curlv, loadavg = sys.argv[1:10]
def load(f):
    d = {}
    for l in open(f):
        n, m, lo, hi = l.split(); d[n] = (float(m), float(lo), float(hi))
    return d
x, s, l, sm = load(xfer), load(single), load(loop), load(small)
mb = 100.0
print("## Allowlist proxy: throughput and start-up\n")
print(f"Machine: {ncpu} CPUs, Linux {kernel}; {ver.strip()}; {curlv}. Server: a small python origin on")
print("127.0.0.1 sending with sendfile(2) (the same for every row); client: curl, body to /dev/null.")
print(f"Each figure is the median of interleaved rounds in this one run (sandbox start-up included);")
print(f"load average at the end of the run: {loadavg}.\n")
print("| 100 MB over loopback | wall time (median, p10-p90) | throughput | vs host network |")
print("|---|---|---|---|")
for k, label in [("outside", "curl, no sandbox"), ("host-network", "`sefaca-run --network=allow` (host's network, no proxy)"),
                 ("proxy-http", "`--network=allow:127.0.0.1:PORT`, plain HTTP through the proxy"),
                 ("proxy-connect", "the same, HTTP CONNECT tunnel (`curl -p`, as https)")]:
    t = x[k][0] / 1e6
    ratio = x["host-network"][0] / x[k][0]
    print(f"| {label} | {t*1000:.0f} ms ({x[k][1]/1000:.0f}-{x[k][2]/1000:.0f}) | {mb / t:.0f} MB/s | {ratio:.2f} |")
print()
print("| start-up, payload `/bin/true` | single run (median) | overhead | per call in a loop | overhead |")
print("|---|---|---|---|---|")
for k, label in [("baseline", "`/bin/true`"), ("no-network", "`sefaca-run --no-network`"),
                 ("localhost", "`sefaca-run --network=localhost`"), ("allowlist", "`sefaca-run --network=allow:127.0.0.1:PORT`")]:
    so = s[k][0] - s["baseline"][0]; lo = l[k][0] - l["baseline"][0]
    print(f"| {label} | {s[k][0]:.0f} us | {so:.0f} us | {l[k][0]:.0f} us | {lo:.0f} us |")
add_s = s["allowlist"][0] - s["no-network"][0]
add_l = l["allowlist"][0] - l["no-network"][0]
print()
print(f"Added start-up of an allowlist over --no-network: {add_s:.0f} us single, {add_l:.0f} us per call in a loop")
print("(lo brought up, the listening socket made in the sandbox's namespace and passed to the supervisor,")
print("the proxy's epoll set).")
d = sm["proxy-http"][0] - sm["host-network"][0]
print(f"One small GET per sandbox: {sm['host-network'][0]:.0f} us on the host's network, {sm['proxy-http'][0]:.0f} us through")
print(f"the proxy ({d:+.0f} us: start-up above plus one more connection and relay).")
PY
cat "$work/section"
if [ -n "${SEFACA_BENCH_OUT:-}" ]; then cp "$work/section" "$SEFACA_BENCH_OUT"; else "$top/bench/merge-section.py" "$work/section"; fi
