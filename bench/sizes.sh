#!/usr/bin/env bash
# Binary sizes of sefaca's configurations against the tools it stands in
# for, written to bench/RESULTS-sizes.md.
#
#   bench/sizes.sh            (builds under build/sizes/)
#
# sefaca: tiny_defconfig static (the embedded build: sefaca-run only),
# defconfig and allyesconfig, each static with musl (`make static`: -Os,
# --gc-sections, stripped) and dynamic with glibc (CC=gcc, default -O2,
# stripped).  Others: the installed binaries (stripped by Debian), and
# firejail's from its Debian package when it is not installed
# (apt-get download + dpkg-deb, never installed).
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
out=build/sizes
mkdir -p "$out"
rows=()

kib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1024 }'; }

static_build() { # name kconfig-target
	local o=$out/$1-static
	mkdir -p "$o"
	make -s O="$o" KCONFIG_CONFIG="$o/.config" "$2" >/dev/null
	make -s -j2 O="$o" KCONFIG_CONFIG="$o/.config" static >/dev/null
	echo "$o/static/sefaca"
}
dynamic_build() { # name kconfig-target
	local o=$out/$1-glibc
	mkdir -p "$o"
	make -s O="$o" KCONFIG_CONFIG="$o/.config" "$2" >/dev/null
	make -s -j2 O="$o" KCONFIG_CONFIG="$o/.config" CC=gcc all >/dev/null
	strip -o "$o/sefaca.stripped" "$o/sefaca"
	echo "$o/sefaca.stripped"
}
row() { # label file [note]
	local b
	b=$(stat -c %s "$2")
	rows+=("| $1 | $b | $(kib "$b") | ${3:-} |")
}
features() { "$1" --version | sed -n 2p; }

t=$(static_build tiny tiny_defconfig)
row "sefaca tiny_defconfig, static (musl)" "$t" "$("$t" --list | tr '\n' ' '); $(features "$t")"
d=$(static_build defconfig defconfig)
row "sefaca defconfig, static (musl)" "$d" "$("$d" --list | tr '\n' ' ')"
a=$(static_build allyesconfig allyesconfig)
row "sefaca allyesconfig, static (musl)" "$a" "$("$a" --list | tr '\n' ' ')"
dg=$(dynamic_build defconfig defconfig)
row "sefaca defconfig, dynamic (glibc)" "$dg" "$(ldd "$dg" | awk '{print $1}' | grep -v vdso | tr '\n' ' ')"
ag=$(dynamic_build allyesconfig allyesconfig)
row "sefaca allyesconfig, dynamic (glibc)" "$ag"

for tool in bwrap crun; do
	p=$(command -v "$tool" || true)
	[ -n "$p" ] && row "$tool $(dpkg-query -W -f '${Version}' "$( [ $tool = bwrap ] && echo bubblewrap || echo $tool)" 2>/dev/null) (Debian, dynamic)" "$p"
done
fj=$(command -v firejail || true)
if [ -z "$fj" ]; then
	tmp=$(mktemp -d)
	if (cd "$tmp" && apt-get download -q firejail >/dev/null 2>&1); then
		dpkg-deb -x "$tmp"/firejail_*.deb "$tmp/x"
		cp "$tmp/x/usr/bin/firejail" "$out/firejail" && fj=$out/firejail
	fi
	rm -rf "$tmp"
fi
[ -n "$fj" ] && row "firejail (Debian package, dynamic, main binary only)" "$fj"

{
	echo "## Binary sizes"
	echo
	echo "Written by bench/sizes.sh on $(uname -m), $(musl-gcc --version 2>/dev/null | head -1 || true) / $(gcc --version | head -1)."
	echo "Static builds: \`make static\` (musl, -Os, --gc-sections, no unwind tables, stripped);"
	echo "dynamic builds: \`make CC=gcc\` (-O2), stripped. Targets: tiny static < 128 KiB (131072 bytes);"
	echo "the full build under crun's size."
	echo
	echo "| binary | bytes | KiB | notes |"
	echo "|---|---|---|---|"
	printf '%s\n' "${rows[@]}"
} >bench/RESULTS-sizes.md
cat bench/RESULTS-sizes.md
