#!/usr/bin/env bash
# bench/run.sh: sefaca-run's start-up against the tools a user would pick
# instead, on this machine, in one run: A/B interleaved, medians, ratios of
# overheads over a plain /bin/true.  Writes bench/RESULTS.md (section "start").
#
#   bench/run.sh [--quick]       (as an unprivileged user, or as root: it drops to one)
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
merge() { bench/merge-section.py "$1"; } # section FILE into bench/RESULTS.md
if [ "$(id -u)" = 0 ]; then
	user=${SEFACA_TEST_USER:-sefacatest}
	id "$user" >/dev/null 2>&1 || useradd -m -s /bin/bash "$user"
	d=$top; while [ "$d" != / ]; do chmod o+rx "$d"; d=$(dirname "$d"); done
	chmod -R o+rX "$top"
	sec=$(mktemp); chmod 666 "$sec"
	runuser -u "$user" -- env PATH="$PATH" SEFACA_BENCH_OUT="$sec" "$0" "$@"
	merge "$sec"; rm -f "$sec"
	exit 0
fi
rounds=40 loopn=200 lrounds=5
[ "${1:-}" = --quick ] && { rounds=10 lrounds=2; }
O=${O:-build}
bin=$top/$O/bin
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cc -O2 -o "$work/timeit" bench/timeit.c
cd "$work"
mkdir proj && cd proj

BW=(bwrap --unshare-all --die-with-parent --ro-bind /usr /usr --symlink usr/bin /bin --symlink usr/lib /lib
	--symlink usr/lib64 /lib64 --symlink usr/sbin /sbin --proc /proc --dev /dev --tmpfs /tmp --bind "$PWD" "$PWD")
cmds=(baseline /bin/true ';'
	sefaca-run "$bin/sefaca-run" --no-network -- /bin/true ';'
	sefaca-run-default "$bin/sefaca-run" -- /bin/true ';'
	bwrap "${BW[@]}" /bin/true ';'
	unshare unshare -Urnpm --fork /bin/true)

echo "single runs ($rounds rounds, interleaved, 20 ms apart)" >&2
"$work/timeit" -n "$rounds" -s 20 -- "${cmds[@]}" >"$work/single"
echo "per call in loops of $loopn ($lrounds rounds, interleaved)" >&2
"$work/timeit" -n "$lrounds" -l "$loopn" -- "${cmds[@]}" >"$work/loop"

rss() { # median max RSS in KiB of 11 runs
	for _ in $(seq 11); do /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; done | sort -n | sed -n 6p
}
rss_s=$(rss "$bin/sefaca-run" --no-network -- /bin/true)
rss_b=$(rss "${BW[@]}" /bin/true)
rss_t=$(rss /bin/true)
# sefaca's own peak, without the payload's: a static payload that exits at once
printf 'int main(void){return 0;}\n' >t.c && (musl-gcc -static -O2 -o tiny t.c 2>/dev/null || cc -static -O2 -o tiny t.c)
rss_so=$(rss "$bin/sefaca-run" --no-network -- ./tiny)
rss_bo=$(rss "${BW[@]}" ./tiny)

python3 - "$work/single" "$work/loop" "$rss_s" "$rss_b" "$rss_t" "$rss_so" "$rss_bo" "$(uname -r)" "$(nproc)" \
	"$("$top/$O/sefaca" --version | tr '\n' ' ')" "$(bwrap --version)" <<'PY' >"$work/section"
import sys
single, loop = sys.argv[1], sys.argv[2]
rss_s, rss_b, rss_t, rss_so, rss_bo = (int(x) for x in sys.argv[3:8])
kernel, ncpu, ver, bwv = sys.argv[8:12]
def load(f):
    d = {}
    for l in open(f):
        n, m, lo, hi = l.split(); d[n] = (float(m), float(lo), float(hi))
    return d
s, l = load(single), load(loop)
print("## Start-up: sefaca-run against bubblewrap and unshare\n")
print(f"Machine: {ncpu} CPUs, Linux {kernel}; {ver.strip()}; {bwv}. Payload `/bin/true`.")
print("Overhead = median wall time per call minus plain `/bin/true` in the same run.\n")
print("| tool | single run (median, p10-p90) | overhead | per call in a loop of 200 | overhead | ratio of overheads vs bwrap (loop) |")
print("|---|---|---|---|---|---|")
for k, label in [("baseline", "`/bin/true`"), ("sefaca-run", "`sefaca-run --no-network -- /bin/true`"),
                 ("sefaca-run-default", "`sefaca-run -- /bin/true` (default level)"),
                 ("bwrap", "bwrap --unshare-all, typical binds"), ("unshare", "`unshare -Urnpm --fork`")]:
    so = s[k][0] - s["baseline"][0]; lo = l[k][0] - l["baseline"][0]
    bo = l["bwrap"][0] - l["baseline"][0]
    ratio = "" if k in ("baseline",) else f"{lo / bo:.2f}"
    print(f"| {label} | {s[k][0]:.0f} us ({s[k][1]:.0f}-{s[k][2]:.0f}) | {so:.0f} us | {l[k][0]:.0f} us | {lo:.0f} us | {ratio} |")
print()
print(f"Peak RSS (GNU time %M, median of 11): sefaca-run {rss_s} KiB, bwrap {rss_b} KiB, plain /bin/true {rss_t} KiB;")
print(f"with a static do-nothing payload (the tool's own peak): sefaca-run {rss_so} KiB, bwrap {rss_bo} KiB.")
print("GNU time reports the largest of the process and the children it waited for: bwrap waits for its")
print("sandbox, sefaca-run returns as soon as its init has reaped the payload and leaves the namespace")
print("teardown to init, so its figure is the supervisor's own; init shares the supervisor's memory (CLONE_VM).")
PY
cat "$work/section"
if [ -n "${SEFACA_BENCH_OUT:-}" ]; then cp "$work/section" "$SEFACA_BENCH_OUT"; else merge "$work/section"; fi
