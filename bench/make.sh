#!/usr/bin/env bash
# bench/make.sh: what sandboxing a build costs, on a real project nobody here
# wrote (GNU diffutils, Debian's source package: autotools, recursive make,
# gnulib) and on sefaca itself.  In one run, interleaved round by round:
#
#   plain          make -j2
#   per-recipe     sefaca-make -j2            (a sandbox per recipe line)
#   whole          sefaca-make --whole -j2    (one sandbox for the whole make)
#   bwrap          make -j2 SHELL=bwrap with the same policy (a sandbox per recipe
#                  line: no network, system and $HOME read-only, the tree writable,
#                  private /tmp)
#
# Two figures per clean build: wall time, and the CPU time of the whole
# process tree (perf stat's task-clock, kernel and user, counted for every
# descendant however it ends; needs root: kernel time of an unprivileged
# user's processes is not counted for that user).  On a machine others
# share, wall time swings with their load; CPU time is what a build on an
# idle machine of the same cores would turn into wall time, and stays put.
# Medians and spreads over the rounds, ratios to plain make of the same round.
# Writes its section of bench/RESULTS.md.
#
#   bench/make.sh [--rounds N] [--quick]   as root (drops to an unprivileged
#                                          user for the builds), or as a user
#                                          (wall time only)
# Needs deb-src in apt's sources (for `apt-get source diffutils`), bwrap, perf.
# TMPDIR is a directory in the tree for every variant: the sandboxes' private
# /tmp is a tmpfs, the host's may be a disk, and the compiler's temporary
# files would otherwise favour the sandboxed builds.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
O=${O:-build}
bin=$top/$O/bin
log() { echo "$*" >&2; }

# ---- one step, as the unprivileged user -----------------------------------------
prepare() { # WORK: the projects, configured, as pristine copies
	local work=$1 cache src d t0
	cache=${SEFACA_BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sefaca-bench}
	mkdir -p "$cache"
	if ! ls -d "$cache"/diffutils-*/ >/dev/null 2>&1; then
		log "fetching diffutils' source from Debian"
		(cd "$cache" && apt-get source -qq diffutils >/dev/null 2>&1) || {
			log "apt-get source diffutils failed: enable deb-src in apt's sources (scripts/deps-debian.sh --bench)"
			exit 1
		}
	fi
	src=$(ls -d "$cache"/diffutils-*/ | head -1)
	src=${src%/}
	basename "$src" >"$work/diffutils.name"
	# configured at its final path (configure records it), then kept aside
	d=$work/diffutils
	cp -a "$src" "$d"
	cd "$d"
	# Debian's patches leave m4 files newer than aclocal.m4: keep automake's
	# generated files newer, so make does not try to rerun automake
	t0=$(date +%s)
	find . \( -name '*.m4' -o -name configure.ac -o -name Makefile.am -o -name '*.mk' \) \
		-exec touch -d @$((t0 - 10)) {} +
	touch -d @$((t0 - 3)) aclocal.m4
	touch -d @$((t0 - 2)) configure
	find . -name Makefile.in -exec touch -d @$((t0 - 1)) {} +
	[ -f lib/config.hin ] && touch -d @$((t0 - 1)) lib/config.hin
	log "configuring diffutils"
	./configure -q --disable-nls >"$work/configure.log" 2>&1 || { tail "$work/configure.log" >&2; exit 1; }
	cd "$work"
	mv diffutils diffutils.pristine
	# sefaca: this tree's sources
	mkdir -p "$work/sefaca.pristine"
	(cd "$top" && git -c safe.directory="$top" ls-files -z | xargs -0 -r cp --parents -t "$work/sefaca.pristine") \
		2>/dev/null || (cd "$top" && tar cf - --exclude=./build --exclude=./.git . | tar xf - -C "$work/sefaca.pristine")
	cp "$top/.config" "$work/sefaca.pristine/" 2>/dev/null || true
	# 400 recipes that do nothing: the cost of one sandboxed recipe, measured
	# on its own rather than as the small difference of two long builds
	mkdir -p "$work/trivial.pristine"
	printf 'N := $(shell seq 1 400)\nall: $(addprefix t,$(N))\nt%%:\n\t@true\n.PHONY: all\n' \
		>"$work/trivial.pristine/Makefile"
	# recipe shells per clean build (each one a sandbox under sefaca-make and bwrap)
	for p in diffutils sefaca trivial; do
		rm -rf "$work/$p"
		cp -a "$work/$p.pristine" "$work/$p"
		: >"$work/count.$p"
		printf '#!/bin/sh\necho >>%s\nexec /bin/sh "$@"\n' "$work/count.$p" >"$work/count-sh"
		chmod +x "$work/count-sh"
		(cd "$work/$p" && make -j2 SHELL="$work/count-sh") >/dev/null 2>&1
		wc -l <"$work/count.$p" >"$work/$p.shells"
	done
}

# bwrap with the policy of sefaca-make's compiler preset, as make's SHELL:
# .SHELLFLAGS carries bwrap's arguments (no wrapper script: bwrap's own cost)
bw_flags() { # TREE
	local f="--unshare-all --die-with-parent" d t sh
	for d in /usr /etc /opt /var /bin /sbin /lib /lib32 /lib64 /libx32; do
		if [ -L "$d" ]; then
			t=$(readlink "$d")
			f="$f --symlink $t $d"
		elif [ -d "$d" ]; then
			f="$f --ro-bind $d $d"
		fi
	done
	[ -d "$HOME" ] && f="$f --ro-bind $HOME $HOME"
	f="$f --proc /proc --dev /dev --tmpfs /tmp --tmpfs /var/tmp --bind $1 $1"
	# the shell the makefile asks for (diffutils: configure's /bin/bash), as
	# plain make and sefaca-make use it
	sh=$(sed -n 's/^SHELL *= *\(\/[^ ]*\) *$/\1/p' "$1/Makefile" 2>/dev/null | head -n 1)
	echo "$f ${sh:-/bin/sh} -c"
}

one() { # WORK PROJECT VARIANT: a clean build; prints its wall time in ms
	local work=$1 p=$2 v=$3 b s e rc=0 bwf
	b=$work/$p
	rm -rf "$b"
	cp -a "$work/$p.pristine" "$b"
	mkdir "$b/.tmp"
	cd "$b"
	export TMPDIR=$b/.tmp
	bwf=$(bw_flags "$b")
	s=$(date +%s%N)
	case $v in
	plain) make -j2 >"$work/$p.$v.log" 2>&1 || rc=$? ;;
	per-recipe) "$bin/sefaca-make" --quiet -j2 >"$work/$p.$v.log" 2>&1 || rc=$? ;;
	whole) "$bin/sefaca-make" --quiet --whole -j2 >"$work/$p.$v.log" 2>&1 || rc=$? ;;
	bwrap) make -j2 SHELL=/usr/bin/bwrap ".SHELLFLAGS=$bwf" >"$work/$p.$v.log" 2>&1 || rc=$? ;;
	esac
	e=$(date +%s%N)
	if [ $rc -ne 0 ]; then
		log "$p/$v failed ($rc):"
		tail -n 15 "$work/$p.$v.log" >&2
		exit 1
	fi
	echo $(((e - s) / 1000000))
}

case ${1:-} in
--prepare) prepare "$2"; exit 0 ;;
--one) one "$2" "$3" "$4"; exit 0 ;;
esac

# ---- the run -----------------------------------------------------------------------
rounds=5
while [ $# -gt 0 ]; do
	case $1 in
	--rounds) rounds=$2; shift ;;
	--quick) rounds=2 ;;
	*) echo "usage: $0 [--rounds N] [--quick]" >&2; exit 2 ;;
	esac
	shift
done
[ -x "$bin/sefaca-make" ] || { echo "build sefaca first (make)" >&2; exit 1; }
command -v bwrap >/dev/null || { echo "bwrap is not installed (scripts/deps-debian.sh --bench)" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/sefaca-bench-make.XXXXXX")
trap 'chmod -R u+rwX "$work" 2>/dev/null; rm -rf "$work"' EXIT
as_user=()
perf=()
if [ "$(id -u)" = 0 ]; then
	user=${SEFACA_TEST_USER:-sefacatest}
	id "$user" >/dev/null 2>&1 || useradd -m -s /bin/bash "$user"
	d=$top; while [ "$d" != / ]; do chmod o+rx "$d"; d=$(dirname "$d"); done
	chmod -R o+rX "$top"
	chown "$user" "$work"
	as_user=(runuser -u "$user" -- env PATH="$PATH" HOME="$(getent passwd "$user" | cut -d: -f6)")
	command -v perf >/dev/null && perf=(perf stat -x, -e task-clock -o "$work/perf.out" --)
fi
"${as_user[@]}" "$0" --prepare "$work"

variants=(plain per-recipe whole bwrap)
: >"$work/results"
for p in trivial diffutils sefaca; do
	"${as_user[@]}" "$0" --one "$work" "$p" plain >/dev/null # warm the caches
	for r in $(seq 1 "$rounds"); do
		# a different order each round: no variant always follows another
		k=$(((r - 1) % 4))
		order=("${variants[@]:k}" "${variants[@]:0:k}")
		for v in "${order[@]}"; do
			ms=$("${perf[@]}" "${as_user[@]}" "$0" --one "$work" "$p" "$v")
			cpu=-1
			[ ${#perf[@]} -gt 0 ] && cpu=$(awk -F, '/task-clock/ {printf "%d", $1}' "$work/perf.out")
			log "$p round $r $v: $ms ms wall, $cpu ms CPU"
			echo "$p $r $v $ms $cpu" >>"$work/results"
		done
	done
done

# Where the CPU of a sandboxed build goes: one `sefaca-make --whole` build of
# diffutils under perf record; the share of samples in the kernel's seccomp
# and Landlock code (and seccomp's BPF programs) is what running inside the
# sandbox costs, measured without comparing two noisy builds.
if [ ${#perf[@]} -gt 0 ]; then
	if perf record -q -o "$work/perf.data" -- "${as_user[@]}" "$0" --one "$work" diffutils whole >/dev/null 2>&1; then
		{
			perf report -q -i "$work/perf.data" --no-children --sort sym -g none --stdio 2>/dev/null |
				awk '/%/ { t += $1 } /seccomp|landlock|bpf_prog|hook_file|hook_path|hook_inode/ { s += $1 } END { printf "%.2f ", s }'
			# sefaca's own processes (supervisor, init, observer): comm sefaca-*
			perf report -q -i "$work/perf.data" --no-children --sort comm -g none --stdio 2>/dev/null |
				awk '/%/ && $2 ~ /^sefaca/ { s += $1 } END { printf "%.2f\n", s }'
		} >"$work/profile" || true
	fi
fi

python3 - "$work" "$rounds" "$(uname -r)" "$(nproc)" "$("$top/$O/sefaca" --version | tr '\n' ' ')" \
	"$(bwrap --version)" "$(make --version | head -1)" "$(uptime | sed 's/.*load average: //')" \
	<<'PY' >"$work/section"
import sys, statistics as st
work, rounds, kernel, ncpu, ver, bwv, mkv, load = sys.argv[1:9]
wall, cpu = {}, {}
for l in open(work + "/results"):
    p, r, v, ms, c = l.split()
    wall.setdefault(p, {}).setdefault(int(r), {})[v] = int(ms)
    cpu.setdefault(p, {}).setdefault(int(r), {})[v] = int(c)
have_cpu = all(c >= 0 for p in cpu for r in cpu[p] for c in cpu[p][r].values())
srcname = open(work + "/diffutils.name").read().strip()
print("## Builds: sefaca-make against plain make and a bubblewrap SHELL\n")
print(f"Machine: {ncpu} CPUs, shared with other jobs while this ran; Linux {kernel}; {ver.strip()}; {bwv}; {mkv}.")
print(f"Clean builds with -j2, {rounds} rounds, the four variants interleaved in a different order each round;")
print("TMPDIR a directory in the tree for every variant.  bwrap runs as make's SHELL with the policy of")
print("sefaca-make's compiler preset (no network, system directories and $HOME read-only, the tree writable,")
print("private /tmp), one sandbox per recipe line like sefaca-make.  Figures are medians over the rounds with")
print("min-max; ratios are to plain make in the same round.  CPU is perf stat's task-clock of the whole process")
print("tree (kernel and user): the cost a build on an idle machine with these cores turns into wall time, and the")
print("figure other jobs on the machine disturb least.  Wall time is as measured, with their load in it.\n")
names = {"diffutils": f"GNU diffutils ({srcname}, Debian's source: autotools, recursive make, gnulib)",
         "sefaca": "sefaca itself (musl-gcc, Kconfig, generated headers)",
         "trivial": "400 recipes that do nothing (`@true`): the cost of one recipe"}
labels = {"plain": "`make -j2`", "per-recipe": "`sefaca-make -j2`", "whole": "`sefaca-make --whole -j2`",
          "bwrap": "`make -j2 SHELL=bwrap ...`"}
def stats(tab, p, v):
    rs = sorted(tab[p])
    vals = [tab[p][r][v] for r in rs]
    ratios = [tab[p][r][v] / tab[p][r]["plain"] for r in rs]
    return vals, ratios
# the cost of one recipe, from the trivial makefile: (variant - plain) / recipes
per = {}
if "trivial" in wall:
    n = int(open(f"{work}/trivial.shells").read())
    print("### The cost of one recipe\n")
    print(f"From {n} recipes that do nothing (`@true`, make -j2): the difference to plain make per recipe,")
    print("median over the rounds (min-max).  Plain make runs `true` without a shell; the sandboxing variants")
    print("run a shell per recipe line (make's SHELL), which is part of their cost.\n")
    print("| variant | wall per recipe | CPU per recipe |" if have_cpu else "| variant | wall per recipe |")
    print("|---|---|---|" if have_cpu else "|---|---|")
    for v in ["per-recipe", "whole", "bwrap"]:
        rs = sorted(wall["trivial"])
        dw = [(wall["trivial"][r][v] - wall["trivial"][r]["plain"]) / n for r in rs]
        line = f"| {labels[v]} | {st.median(dw):.2f} ms ({min(dw):.2f}-{max(dw):.2f}) |"
        if have_cpu:
            dc = [(cpu["trivial"][r][v] - cpu["trivial"][r]["plain"]) / n for r in rs]
            line += f" {st.median(dc):.2f} ms ({min(dc):.2f}-{max(dc):.2f}) |"
            per[v] = st.median(dc)
        else:
            per[v] = st.median(dw)
        print(line)
    print()
for p in wall:
    if p == "trivial":
        continue
    shells = open(f"{work}/{p}.shells").read().strip()
    print(f"### {names.get(p, p)}\n")
    print(f"{shells} recipe shells per clean build (one sandbox each per recipe).\n")
    hdr = "| variant | wall (median, min-max) | wall ratio | "
    hdr += "CPU (median, min-max) | CPU ratio (median, min-max) |" if have_cpu else ""
    print(hdr)
    print("|---|---|---|" + ("---|---|" if have_cpu else ""))
    over, wover = {}, {}
    for v in ["plain", "per-recipe", "whole", "bwrap"]:
        w, wr = stats(wall, p, v)
        wover[v] = (st.median(wr) - 1) * 100
        line = f"| {labels[v]} | {st.median(w)/1000:.2f} s ({min(w)/1000:.2f}-{max(w)/1000:.2f}) | {st.median(wr):.3f} |"
        if have_cpu:
            c, cr = stats(cpu, p, v)
            line += f" {st.median(c)/1000:.2f} s ({min(c)/1000:.2f}-{max(c)/1000:.2f}) | {st.median(cr):.3f} ({min(cr):.3f}-{max(cr):.3f}) |"
            over[v] = (st.median(cr) - 1) * 100
        else:
            over[v] = (st.median(wr) - 1) * 100
        print(line)
    def verdict(basis, o):
        po, wo, bo = o["per-recipe"], o["whole"], o["bwrap"]
        if bo > 0:
            rel = po / bo
            cmp = f"its overhead is {rel:.2f} of bubblewrap's (target below 0.5: {'met' if rel < 0.5 else 'NOT met'})"
        else:
            cmp = "bubblewrap's overhead was not above the noise: no ratio"
        return (f"by {basis} time: per recipe {po:+.1f}% (target at most +5%: {'met' if po <= 5 else 'NOT met'}), "
                f"bubblewrap per recipe {bo:+.1f}%, {cmp}; --whole {wo:+.1f}% "
                f"(target at most +1%: {'met' if wo <= 1 else 'NOT met'}).")
    print()
    # the issue's measure is wall time; CPU time is the figure other jobs disturb least
    print("Measured " + verdict("wall", wover))
    if have_cpu:
        print("Measured " + verdict("CPU", over))
    po, wo, bo = over["per-recipe"], over["whole"], over["bwrap"]
    basis = "CPU" if have_cpu else "wall"
    if per:
        base = st.median([(cpu if have_cpu else wall)[p][r]["plain"] for r in (cpu if have_cpu else wall)[p]])
        proj = {v: per[v] * int(shells) / base * 100 for v in per}
        rel2 = proj["per-recipe"] / proj["bwrap"] if proj["bwrap"] > 0 else float("nan")
        print(f"From the cost of one recipe x {shells} recipe shells over plain make's {base/1000:.2f} s {basis}: "
              f"per recipe {proj['per-recipe']:+.1f}%, --whole {proj['whole']:+.1f}%, bubblewrap {proj['bwrap']:+.1f}%; "
              f"sefaca-make's overhead {rel2:.2f} of bubblewrap's.")
    print()
import os
if os.path.exists(work + "/profile"):
    sec, own = (float(x) for x in open(work + "/profile").read().split())
    print("### Inside the sandbox\n")
    print(f"A `sefaca-make --whole -j2` build of diffutils under `perf record`: {sec:.2f}% of the CPU samples are in the")
    print(f"kernel's seccomp and Landlock code (and seccomp's BPF programs), {own:.2f}% in sefaca's own processes")
    print("(start, supervision, the observer of refused writes): what `--whole` costs, measured within one build")
    print("rather than as the difference of two.\n")
print(f"Load average at the end of the run: {load}.")
PY
cat "$work/section"
"$top/bench/merge-section.py" "$work/section"
