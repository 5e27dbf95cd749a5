#!/usr/bin/env bash
# Foreign-platform RUN steps (shale build --platform linux/arm64, and Docker 26's buildx for the tests):
# binfmt_misc mounted, Debian's qemu-aarch64 (qemu-user-static) registered with the F flag (the kernel opens
# the emulator at registration, so it works inside a container's root filesystem), and Debian's arm64
# busybox-static unpacked into .cache/arm64-busybox/ for the tests' arm64 base image (downloaded with a
# private apt state: nothing is installed for arm64). Safe to run again. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."

BINFMT=/proc/sys/fs/binfmt_misc
if [ ! -e "$BINFMT/register" ]; then
  mount -t binfmt_misc binfmt_misc "$BINFMT"
fi

# the F (fix binary) flag is what makes the emulator usable from inside a container's root filesystem
if ! grep -q '^flags:.*F' "$BINFMT/qemu-aarch64" 2>/dev/null; then
  if [ ! -f /usr/share/binfmts/qemu-aarch64 ]; then
    echo "setup: /usr/share/binfmts/qemu-aarch64 is missing (install qemu-user-static)" >&2
    exit 1
  fi
  if [ -e "$BINFMT/qemu-aarch64" ]; then echo -1 >"$BINFMT/qemu-aarch64"; fi
  update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || update-binfmts --import qemu-aarch64
  if ! grep -q '^flags:.*F' "$BINFMT/qemu-aarch64" 2>/dev/null; then
    echo "setup: qemu-aarch64 is not registered with the F flag in $BINFMT" >&2
    exit 1
  fi
fi

# Debian's arm64 busybox-static, for an arm64 base image in the tests
OUT="$PWD/.cache/arm64-busybox"
if [ ! -x "$OUT/bin/busybox" ]; then
  echo "setup: fetching Debian's busybox-static for arm64 into $OUT" >&2
  uri=$(bash scripts/debian-archive-uri.sh)
  suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/debs"
  echo "deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri $suite main" >"$work/sources.list"
  : >"$work/status"
  apt_opts=(-o "Dir::Etc::sourcelist=$work/sources.list" -o Dir::Etc::sourceparts=/dev/null
    -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o "Dir::State::status=$work/status"
    -o APT::Architecture=arm64 -o APT::Architectures=arm64 -o APT::Sandbox::User=root -qq)
  apt-get "${apt_opts[@]}" update
  (cd "$work/debs" && apt-get "${apt_opts[@]}" download busybox-static:arm64)
  rm -rf "$OUT.new"
  mkdir -p "$OUT.new"
  dpkg-deb -x "$work"/debs/busybox-static_*_arm64.deb "$OUT.new"
  rm -rf "$OUT"
  mv "$OUT.new" "$OUT"
fi
