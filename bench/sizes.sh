#!/usr/bin/env bash
# Binary sizes of sefaca's configurations against the tools it stands in
# for, written to its section of bench/RESULTS.md.
#
#   bench/sizes.sh            (builds under build/sizes/)
#
# sefaca: tiny_defconfig static (the embedded build: sefaca-run only),
# defconfig and allyesconfig, each static with musl (`make static`: -Oz,
# --gc-sections, stripped) and dynamic with glibc (CC=gcc, default -O2 without unwind tables,
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

# Where the tiny build's bytes go: a linker map of the same build.
o=$out/tiny-map
mkdir -p "$o"
cp "$out/tiny-static/.config" "$o/.config"
make -s -j2 O="$o" KCONFIG_CONFIG="$o/.config" STATIC=1 \
	CFLAGS="$(make -s -f Makefile -p 2>/dev/null | sed -n 's/^STATIC_OPT := //p' | head -1) -ffunction-sections -fdata-sections -fno-asynchronous-unwind-tables -fno-unwind-tables -fno-pie" \
	LDLIBS="-no-pie -Wl,--gc-sections -s -Wl,-z,noseparate-code -Wl,-z,norelro -Wl,--build-id=none -Wl,-Map,$o/map.txt" all >/dev/null
breakdown=$(python3 - "$o/map.txt" <<'PY'
import collections, re, sys
m = open(sys.argv[1]).read()
m = m[m.index("Linker script and memory map"):]
sizes, sec = collections.Counter(), ""
for line in m.splitlines():
    s = re.match(r"^ (\.[\w.]+)", line)
    if s:
        sec = s.group(1)
    mm = re.match(r"^\s+(\.[\w.]+)?\s*0x[0-9a-f]+\s+0x([0-9a-f]+)\s+(\S+\.(?:o|a)\S*)", line)
    if not mm:
        continue
    name = mm.group(1) or sec
    if name.startswith((".bss", ".tbss", ".comment")) or "eh_frame" in name:
        continue
    obj = re.sub(r".*/", "", mm.group(3))
    obj = "libc: " + re.sub(r"libc\.a\((.*)\.lo\)", r"\1", obj) if obj.startswith("libc.a") else obj
    sizes[obj] += int(mm.group(2), 16)
libc = sum(v for k, v in sizes.items() if k.startswith("libc: "))
own = [(k, v) for k, v in sizes.items() if not k.startswith("libc: ")]
own.sort(key=lambda kv: -kv[1])
print(", ".join("%s %.1f" % (k, v / 1024) for k, v in own[:14]) + "; musl libc %.1f (printf alone %.1f)" % (
    libc / 1024, sizes.get("libc: vfprintf", 0) / 1024))
PY
)

{
	echo "## Binary sizes"
	echo
	echo "Written by bench/sizes.sh on $(uname -m), $(musl-gcc --version 2>/dev/null | head -1 || true) / $(gcc --version | head -1)."
	echo "Static builds: \`make static\` (musl, -Oz, --gc-sections, no unwind tables, position-dependent, stripped);"
	echo "dynamic builds: \`make CC=gcc\` (default CFLAGS: -O2, no unwind tables), stripped. Targets: tiny static < 128 KiB (131072 bytes);"
	echo "the full build under crun's size."
	echo
	echo "| binary | bytes | KiB | notes |"
	echo "|---|---|---|---|"
	printf '%s\n' "${rows[@]}"
	echo
	echo "Where the tiny build's bytes go (KiB of code and data, from the linker map): $breakdown."
} >"${TMPDIR:-/tmp}/sefaca-sizes.$$.md"
cat "${TMPDIR:-/tmp}/sefaca-sizes.$$.md"
bench/merge-section.py "${TMPDIR:-/tmp}/sefaca-sizes.$$.md"
rm -f "${TMPDIR:-/tmp}/sefaca-sizes.$$.md"
