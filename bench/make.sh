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
# Wall time of a clean build, median and spread over the rounds; ratios to
# plain make of the same round.  Writes bench/RESULTS-make.md.
#
#   bench/make.sh [--rounds N] [--quick]     (as an unprivileged user, or as
#                                             root: it drops to one)
# Needs deb-src in apt's sources (for `apt-get source diffutils`), bwrap.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
rounds=5
while [ $# -gt 0 ]; do
	case $1 in
	--rounds) rounds=$2; shift ;;
	--quick) rounds=2 ;;
	*) echo "usage: $0 [--rounds N] [--quick]" >&2; exit 2 ;;
	esac
	shift
done
if [ "$(id -u)" = 0 ]; then
	user=${SEFACA_TEST_USER:-sefacatest}
	id "$user" >/dev/null 2>&1 || useradd -m -s /bin/bash "$user"
	d=$top; while [ "$d" != / ]; do chmod o+rx "$d"; d=$(dirname "$d"); done
	chmod -R o+rX "$top"
	out=$(mktemp); chmod 666 "$out"
	runuser -u "$user" -- env PATH="$PATH" SEFACA_BENCH_OUT="$out" "$0" --rounds "$rounds"
	cp "$out" "$top/bench/RESULTS-make.md"; rm -f "$out"
	exit 0
fi
O=${O:-build}
bin=$top/$O/bin
[ -x "$bin/sefaca-make" ] || { echo "build sefaca first (make)" >&2; exit 1; }
command -v bwrap >/dev/null || { echo "bwrap is not installed (scripts/deps-debian.sh --bench)" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/sefaca-bench-make.XXXXXX")
trap 'chmod -R u+rwX "$work" 2>/dev/null; rm -rf "$work"' EXIT
cache=${SEFACA_BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sefaca-bench}
mkdir -p "$cache"
log() { echo "$*" >&2; }

# ---- the projects ------------------------------------------------------------
if ! ls -d "$cache"/diffutils-*/ >/dev/null 2>&1; then
	log "fetching diffutils' source from Debian"
	(cd "$cache" && apt-get source -qq diffutils >/dev/null 2>&1) ||
		{ echo "apt-get source diffutils failed: enable deb-src in /etc/apt/sources.list.d and apt-get update" >&2; exit 1; }
fi
src=$(ls -d "$cache"/diffutils-*/ | head -1)
src=${src%/}

prep_diffutils() { # configure a copy at $work/diffutils (its final path)
	local d=$work/diffutils t0
	cp -a "$src" "$d"
	cd "$d"
	# Debian's patches leave m4 files newer than aclocal.m4: keep automake's
	# generated files (as shipped) newer, so make does not try to rerun it
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
}
prep_sefaca() { # a copy of this tree's sources at $work/sefaca
	mkdir -p "$work/sefaca.pristine"
	(cd "$top" && git -c safe.directory="$top" ls-files -z | xargs -0 -r cp --parents -t "$work/sefaca.pristine") 2>/dev/null ||
		(cd "$top" && tar cf - --exclude=./build --exclude=./.git . | tar xf - -C "$work/sefaca.pristine")
	cp "$top/.config" "$work/sefaca.pristine/" 2>/dev/null || true
}
prep_diffutils
prep_sefaca

# ---- the variants --------------------------------------------------------------
# bwrap with the policy of sefaca-make's compiler preset, as make's SHELL:
# .SHELLFLAGS carries bwrap's arguments (no wrapper script: bwrap's own cost)
bw_flags() { # TREE
	local f="--unshare-all --die-with-parent" d t
	for d in /usr /etc /opt /var /bin /sbin /lib /lib32 /lib64 /libx32; do
		if [ -L "$d" ]; then
			t=$(readlink "$d"); f="$f --symlink $t $d"
		elif [ -d "$d" ]; then
			f="$f --ro-bind $d $d"
		fi
	done
	[ -d "$HOME" ] && f="$f --ro-bind $HOME $HOME"
	f="$f --proc /proc --dev /dev --tmpfs /tmp --tmpfs /var/tmp --bind $1 $1"
	echo "$f /bin/sh -c"
}

# run PROJECT VARIANT: a clean build, prints milliseconds
run() {
	local p=$1 v=$2 b=$work/$1 s e rc
	rm -rf "$b"
	cp -a "$work/$p.pristine" "$b"
	cd "$b"
	local mk=(make -j2)
	local bwf
	bwf=$(bw_flags "$b")
	rc=0
	s=$(date +%s%N)
	case $v in
	plain) "${mk[@]}" >"$work/$p.$v.log" 2>&1 || rc=$? ;;
	per-recipe) "$bin/sefaca-make" --quiet -j2 "${mk[@]:2}" >"$work/$p.$v.log" 2>&1 || rc=$? ;;
	whole) "$bin/sefaca-make" --quiet --whole -j2 "${mk[@]:2}" >"$work/$p.$v.log" 2>&1 || rc=$? ;;
	bwrap) "${mk[@]}" SHELL=/usr/bin/bwrap ".SHELLFLAGS=$bwf" >"$work/$p.$v.log" 2>&1 || rc=$? ;;
	esac
	e=$(date +%s%N)
	cd "$work"
	if [ $rc -ne 0 ]; then
		log "$p/$v failed ($rc):"
		tail -n 15 "$work/$p.$v.log" >&2
		exit 1
	fi
	echo $(((e - s) / 1000000))
}

# recipe shells per clean build (each is a sandbox under sefaca-make and bwrap)
count_shells() { # PROJECT
	local p=$1 b=$work/$1 c=$work/count.$1
	rm -rf "$b"; cp -a "$work/$p.pristine" "$b"; : >"$c"
	printf '#!/bin/sh\necho >>%s\nexec /bin/sh "$@"\n' "$c" >"$work/count-sh"
	chmod +x "$work/count-sh"
	(cd "$b" && make -j2 SHELL="$work/count-sh") >/dev/null 2>&1
	wc -l <"$c"
}

variants=(plain per-recipe whole bwrap)
for p in diffutils sefaca; do
	n=$(count_shells "$p")
	echo "$p shells $n" >>"$work/results"
	run "$p" plain >/dev/null # warm the caches
	for r in $(seq 1 "$rounds"); do
		# a different order each round: no variant always follows another
		k=$(((r - 1) % 4))
		order=("${variants[@]:k}" "${variants[@]:0:k}")
		for v in "${order[@]}"; do
			ms=$(run "$p" "$v")
			log "$p round $r $v: $ms ms"
			echo "$p $r $v $ms" >>"$work/results"
		done
	done
done

python3 - "$work/results" "$rounds" "$(uname -r)" "$(nproc)" "$("$top/$O/sefaca" --version | tr '\n' ' ')" \
	"$(bwrap --version)" "$(make --version | head -1)" "$(basename "$src")" "$(uptime | sed 's/.*load average: //')" \
	<<'PY' >"$work/section"
import sys, statistics as st
res, rounds, kernel, ncpu, ver, bwv, mkv, srcname, load = sys.argv[1:10]
t, shells = {}, {}
for l in open(res):
    f = l.split()
    if f[1] == "shells":
        shells[f[0]] = int(f[2]); continue
    t.setdefault(f[0], {}).setdefault(int(f[1]), {})[f[2]] = int(f[3])
print("## Builds: sefaca-make against plain make and a bubblewrap SHELL\n")
print(f"Machine: {ncpu} CPUs (shared with other jobs while this ran), Linux {kernel}; {ver.strip()}; {bwv}; {mkv}.")
print(f"Clean builds with -j2, {rounds} rounds, the four variants interleaved in a different order each round;")
print("each figure is the median over the rounds, the spread is min-max.  Ratios are to plain make in the same")
print("round (median and min-max of the per-round ratios).  bwrap runs as make's SHELL with the same policy as")
print("sefaca-make's compiler preset (no network, system dirs and $HOME read-only, the tree writable, private")
print("/tmp), one sandbox per recipe line like sefaca-make.\n")
names = {"diffutils": f"GNU diffutils ({srcname}, Debian's source: autotools, recursive make, gnulib)",
         "sefaca": "sefaca itself (musl-gcc, Kconfig, generated headers)"}
labels = {"plain": "`make -j2`", "per-recipe": "`sefaca-make -j2`", "whole": "`sefaca-make --whole -j2`",
          "bwrap": "`make -j2 SHELL=bwrap ...`"}
summary = []
for p in t:
    rs = sorted(t[p])
    print(f"### {names.get(p, p)}\n")
    print(f"{shells.get(p, '?')} recipe shells per build (each one a sandbox per recipe).\n")
    print("| variant | wall time (median, min-max) | ratio to plain (median, min-max) | overhead |")
    print("|---|---|---|---|")
    med = {}
    for v in ["plain", "per-recipe", "whole", "bwrap"]:
        ms = [t[p][r][v] for r in rs]
        ratios = [t[p][r][v] / t[p][r]["plain"] for r in rs]
        med[v] = st.median(ratios)
        print(f"| {labels[v]} | {st.median(ms)/1000:.2f} s ({min(ms)/1000:.2f}-{max(ms)/1000:.2f}) | "
              f"{st.median(ratios):.3f} ({min(ratios):.3f}-{max(ratios):.3f}) | {(st.median(ratios)-1)*100:+.1f}% |")
    po, wo, bo = (med["per-recipe"] - 1) * 100, (med["whole"] - 1) * 100, (med["bwrap"] - 1) * 100
    rel = po / bo if bo > 0 else float("nan")
    print()
    print(f"Per recipe: {po:+.1f}% (target at most +5%: {'met' if po <= 5 else 'NOT met'}); "
          f"bubblewrap per recipe: {bo:+.1f}%; sefaca-make's overhead is {rel:.2f} of bubblewrap's "
          f"(target below 0.5: {'met' if rel < 0.5 else 'NOT met'}); --whole: {wo:+.1f}% "
          f"(target at most +1%: {'met' if wo <= 1 else 'NOT met'}).\n")
print(f"Load average at the end of the run: {load}.")
PY
cat "$work/section"
if [ -n "${SEFACA_BENCH_OUT:-}" ]; then cp "$work/section" "$SEFACA_BENCH_OUT"; else cp "$work/section" "$top/bench/RESULTS-make.md"; fi
