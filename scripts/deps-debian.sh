#!/bin/sh
# Install what building and testing sefaca needs, from Debian's (or
# Ubuntu's) archive.  Used by the README's quick start and by .ci/run.
#   scripts/deps-debian.sh          build + test dependencies
#   scripts/deps-debian.sh --bench  also the tools bench/ compares against
set -eu
# as root (a fresh machine often has no sudo); else through sudo
if [ "$(id -u)" != 0 ]; then
	command -v sudo >/dev/null 2>&1 || { echo "run as root (no sudo here)" >&2; exit 1; }
	exec sudo "$0" "$@"
fi
export DEBIAN_FRONTEND=noninteractive
pkgs="build-essential pkg-config kconfig-frontends libncurses-dev musl-tools
      libseccomp-dev libcap-ng-dev libinih-dev libjson-c-dev libarchive-dev zlib1g-dev
      libzstd-dev liblzma-dev
      busybox-static umoci skopeo passt slirp4netns mmdebstrap
      util-linux procps iproute2 python3 jq curl ca-certificates clang
      qemu-system-x86 tmux zsh"
if [ "${1:-}" = --bench ]; then
	pkgs="$pkgs bubblewrap hyperfine time crun runc podman uidmap fuse-overlayfs catatonit dpkg-dev"
	# bench/make.sh builds a project from Debian's sources (apt-get source)
	if ! grep -rqs '^Types:.*deb-src\|^deb-src ' /etc/apt/sources.list /etc/apt/sources.list.d/; then
		. /etc/os-release
		if [ "${ID:-}" = debian ] && [ -n "${VERSION_CODENAME:-}" ]; then
			printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: %s %s-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
				"$VERSION_CODENAME" "$VERSION_CODENAME" >/etc/apt/sources.list.d/sefaca-deb-src.sources
		else
			echo "note: enable deb-src in apt's sources for bench/make.sh" >&2
		fi
	fi
fi
apt-get update -q
# libFuzzer and the sanitizer runtimes (make fuzz): a package of their own
# since Debian 12 (libclang-rt-14-dev), part of libclang-common before
if apt-cache show libclang-rt-dev >/dev/null 2>&1; then pkgs="$pkgs libclang-rt-dev"; fi
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $pkgs
