#!/usr/bin/env bash
# Start-to-exit of /bin/true in a container from a cached image:
# sefaca-container run --rm, against crun run on the same rootfs and
# podman run --rm, in one run on this machine (BENCH-NOTES.md).
#
#   bench/container.sh [--runs N] [--out FILE]    as root (CI) or as a user
#
# As root it makes a private mount namespace with an empty read-only tmpfs
# over /sys/fs/cgroup/unified (crun 1.8 refuses the hybrid cgroup layout;
# the host's cgroup mounts are never changed) and runs the comparison there
# as an unprivileged user ($SEFACA_BENCH_USER, default sefacatest).
# Writes its section of bench/RESULTS.md (or FILE with --out).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
O=${O:-build}
case $O in /*) ;; *) O=$top/$O ;; esac
runs=200
out=
while [ $# -gt 0 ]; do
	case $1 in
	--runs) runs=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--inner) inner=1; shift ;;
	*) echo "usage: $0 [--runs N] [--out FILE]" >&2; exit 2 ;;
	esac
done

if [ "$(id -u)" = 0 ] && [ -z "${inner:-}" ]; then
	user=${SEFACA_BENCH_USER:-sefacatest}
	id "$user" >/dev/null 2>&1 || useradd -m -s /bin/bash "$user"
	grep -q "^$user:" /etc/subuid || usermod --add-subuids 300000-365535 --add-subgids 300000-365535 "$user"
	d=$top; while [ "$d" != / ]; do chmod o+rx "$d" 2>/dev/null || true; d=$(dirname "$d"); done
	chmod -R o+rX "$top/bench" "$O" 2>/dev/null || true
	# pasta/slirp4netns and podman want /dev/net/tun as udev leaves it
	if [ -c /dev/net/tun ] && [ "$(stat -c %a /dev/net/tun)" = 600 ]; then chmod 0666 /dev/net/tun; fi
	tmpout=$(mktemp /tmp/sefaca-bench.XXXXXX.md)
	chown "$user" "$tmpout"
	unshare -m --propagation private sh -c '
		if [ -d /sys/fs/cgroup/unified ]; then mount -t tmpfs -o ro none /sys/fs/cgroup/unified; fi
		exec runuser -u "$0" -- env -i PATH="$PATH" HOME="$(getent passwd "$0" | cut -d: -f6)" O="$1" \
			XDG_RUNTIME_DIR= "$2" --inner --runs "$3" --out "$4"' "$user" "$O" "$0" "$runs" "$tmpout"
	if [ -n "$out" ]; then cp "$tmpout" "$out"; else "$here/merge-section.py" "$tmpout"; fi
	cat "$tmpout"; rm -f "$tmpout"
	exit 0
fi

for c in hyperfine umoci busybox jq; do
	command -v "$c" >/dev/null || { echo "bench: $c is not installed (scripts/deps-debian.sh --bench)" >&2; exit 1; }
done
work=$(mktemp -d /tmp/sefaca-bench.XXXXXX)
trap 'chmod -R u+rwX "$work" 2>/dev/null; rm -rf "$work"' EXIT
cd "$work"
export SEFACA_HOME=$work/home
SC="$O/bin/sefaca-container"

# one busybox-static rootfs, one OCI image (umoci), used by all three tools
mkdir -p rootfs/bin rootfs/etc rootfs/tmp rootfs/proc rootfs/dev rootfs/sys
cp "$(command -v busybox)" rootfs/bin/busybox
for a in true sh; do ln -s busybox rootfs/bin/$a; done
echo 'root:x:0:0:root:/root:/bin/sh' >rootfs/etc/passwd
umoci init --layout img >/dev/null
umoci new --image img:latest >/dev/null
umoci insert --rootless --image img:latest rootfs / >/dev/null
"$SC" import -q --name=bench:latest oci:img:latest >/dev/null

results=()
row() { results+=("$1|$2|$3|${4:--}"); }
measure() { # NAME RUNS CMD...
	local name=$1 n=$2
	shift 2
	hyperfine -N --warmup 10 --runs "$n" --export-json "$work/h.json" "$@" >/dev/null 2>"$work/h.err" || {
		echo "bench: $name failed: $(tail -3 "$work/h.err")" >&2
		row "$name" - - -
		return
	}
	local mean sd med
	mean=$(jq '.results[0].mean * 1000' "$work/h.json")
	sd=$(jq '.results[0].stddev * 1000' "$work/h.json")
	med=$(jq '.results[0].median * 1000' "$work/h.json")
	row "$name" "$mean" "$sd" "$med"
}

measure "baseline: /bin/true" "$runs" /bin/true
measure "sefaca-run true" "$runs" "$O/bin/sefaca-run -q true"
measure "sefaca-container run --rm (cached OCI image)" "$runs" \
	"$SC run -q --rm --no-workspace --image=bench:latest /bin/true"
measure "sefaca-container run --rm --read-only" "$runs" \
	"$SC run -q --rm --no-workspace --read-only --image=bench:latest /bin/true"

if command -v crun >/dev/null; then
	mkdir -p bundle
	umoci raw unpack --rootless --image img:latest bundle/rootfs >/dev/null
	(cd bundle && crun spec --rootless)
	jq '.process.args = ["/bin/true"] | .process.terminal = false' bundle/config.json >bundle/c.json
	mv bundle/c.json bundle/config.json
	measure "crun run (rootless, same rootfs)" "$runs" "crun --root=$work/crun run --bundle $work/bundle bench"
else
	row "crun run" - -
fi

if command -v podman >/dev/null; then
	mkdir -p "$HOME/.config/containers"
	cat >"$HOME/.config/containers/containers.conf" <<-EOF
	[engine]
	cgroup_manager = "cgroupfs"
	events_logger = "file"
	runtime = "${PODMAN_RUNTIME:-runc}"
	EOF
	tar -C rootfs -cf rootfs.tar .
	if podman import -q rootfs.tar localhost/sefaca-bench:latest >/dev/null 2>"$work/p.err" &&
		podman run --rm localhost/sefaca-bench:latest /bin/true >/dev/null 2>>"$work/p.err"; then
		measure "podman run --rm (rootless, warm)" $((runs / 10 > 10 ? runs / 10 : 10)) \
			"podman run --rm localhost/sefaca-bench:latest /bin/true"
	else
		echo "bench: podman does not run here: $(tail -2 "$work/p.err")" >&2
		row "podman run --rm" - -
	fi
	podman rmi -f localhost/sefaca-bench:latest >/dev/null 2>&1 || true
else
	row "podman run --rm" - -
fi

val() { for r in "${results[@]}"; do case $r in "$1"*) echo "$r" | cut -d'|' -f"$2"; return ;; esac; done; }
sc=$(val "sefaca-container run --rm (cached" 2)
cr=$(val "crun run" 2)
pm=$(val "podman run" 2)
scm=$(val "sefaca-container run --rm (cached" 4)
crm=$(val "crun run" 4)
pmm=$(val "podman run" 4)
ratio() { if [ -n "$1" ] && [ "$1" != - ] && [ -n "$2" ] && [ "$2" != - ]; then awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1fx", b / a }'; else echo n/a; fi; }
{
	echo "## sefaca-container start-to-exit"
	echo
	echo "$(date -u +%Y-%m-%d), $(uname -r), $(nproc) CPUs, as $(id -un); hyperfine -N, $runs runs"
	echo "(podman: fewer), /bin/true in a busybox-static image cached in each tool's store."
	echo
	echo "| command | mean ms | median ms | stddev ms |"
	echo "|---|---|---|---|"
	for r in "${results[@]}"; do
		IFS='|' read -r n m s md <<<"$r"
		[ "$m" = - ] && echo "| $n | - | - | - |" || printf '| %s | %.2f | %.2f | %.2f |\n' "$n" "$m" "$md" "$s"
	done
	echo
	echo "crun / sefaca-container: $(ratio "$sc" "$cr") by mean, $(ratio "$scm" "$crm") by median (target: 4x or more)"
	echo "podman / sefaca-container: $(ratio "$sc" "$pm") by mean, $(ratio "$scm" "$pmm") by median (target: 50x or more)"
} >"${out:-$work/section}"
cat "${out:-$work/section}"
[ -n "$out" ] || "$here/merge-section.py" "$work/section"
