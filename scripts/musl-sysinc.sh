#!/bin/sh
# Headers for a musl build: musl-gcc does not search /usr/include (glibc's),
# so the kernel headers and the headers of the libraries we link are made
# visible through symlinks in one directory.
#   musl-sysinc.sh OUTDIR
set -eu
out=$1
mkdir -p "$out"
multi=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
for d in linux asm-generic mtd; do
	[ -e "/usr/include/$d" ] && ln -sfn "/usr/include/$d" "$out/$d"
done
if [ -d "/usr/include/$multi/asm" ]; then ln -sfn "/usr/include/$multi/asm" "$out/asm"; fi
for h in cap-ng.h ini.h archive.h archive_entry.h json-c zlib.h zconf.h lzma.h lzma; do
	[ -e "/usr/include/$h" ] && ln -sfn "/usr/include/$h" "$out/$h"
done
exit 0
