#!/usr/bin/env bash
# Without root against as root: the same shale commands run by an ordinary user (in shale's user
# namespace, runc rootless, overlayfs with userxattr) and by root, on the same busybox base:
# - the seed's split Dockerfile built cold: a fresh store each run, the base imported and unpacked before
#   the clock starts (one untimed `run --rm`), then `sync`, then `shale build`;
# - `shale run --rm IMAGE true` on a store with the base unpacked (one warm-up run each).
# Both sides start through the same `setpriv` (root to root, or to the user) with the same environment
# but HOME/USER; runs are interleaved. The user is `shale-bench` (made when missing, with a range of its
# own in /etc/subuid and /etc/subgid) or $BENCH_USER. Prints the medians of RUNS runs and rootless/root.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
RUNS=${RUNS:-5}
user=${BENCH_USER:-shale-bench}
[ "$(id -u)" = 0 ] || { echo "rootless.sh: run as root (it compares root with an ordinary user)" >&2; exit 1; }
for tool in newuidmap newgidmap useradd setpriv; do
  command -v "$tool" >/dev/null || { echo "rootless.sh: $tool is missing (bash scripts/setup.sh installs uidmap)" >&2; exit 1; }
done

# the user, with a subordinate range above every range either file gives anyone
if ! id -u "$user" >/dev/null 2>&1; then useradd -m -s /bin/sh -K SUB_UID_COUNT=0 -K SUB_GID_COUNT=0 "$user"; fi
if ! grep -q "^$user:" /etc/subuid || ! grep -q "^$user:" /etc/subgid; then
  sed -i "/^$user:/d" /etc/subuid /etc/subgid
  start=$(cat /etc/subuid /etc/subgid | awk -F: 'BEGIN { m = 100000 } NF == 3 && $2 + $3 > m { m = $2 + $3 } END { print int((m + 65535) / 65536) * 65536 }')
  usermod --add-subuids "$start-$((start + 65535))" --add-subgids "$start-$((start + 65535))" "$user"
fi
uid=$(id -u "$user") gid=$(id -g "$user") home=$(getent passwd "$user" | cut -d: -f6)

work=$(mktemp -d /var/tmp/shale-bench-rootless.XXXXXX)
chmod 755 "$work"
ref="bench-rootless:busybox"
cleanup() {
  pkill -KILL -u "$uid" 2>/dev/null || true # the user's namespace holder (and anything a failed run left)
  rm -rf "$work" "/tmp/shale-$uid"
}
trap cleanup EXIT

# the user's copy of the CLI (this checkout may be closed to other users): the launcher, the bundles
mkdir -p "$work/cli/bin" "$work/cli/dist" "$work/user"
cp bin/* "$work/cli/bin/" && cp dist/*.cjs "$work/cli/dist/" && cp package.json "$work/cli/"
chown -R "$uid:$gid" "$work/cli" "$work/user"
as_root() { env -u XDG_RUNTIME_DIR -u SHALE_ROOT setpriv --reuid=0 --regid=0 --clear-groups "$shale" --root "$work/root/store" "$@"; }
as_user() {
  env -u XDG_RUNTIME_DIR -u XDG_DATA_HOME -u SHALE_ROOT HOME="$home" USER="$user" LOGNAME="$user" \
    setpriv --reuid="$uid" --regid="$gid" --clear-groups "$work/cli/bin/shale" --root "$work/user/store" "$@"
}

# the base (test/support/rootfs.ts's applets) and the seed's split Dockerfile on it
rootfs=$work/rootfs
mkdir -p "$rootfs/bin" "$rootfs/etc" "$rootfs/tmp" "$work/seed"
chmod 1777 "$rootfs/tmp"
cp /bin/busybox "$rootfs/bin/busybox"
for a in sh ls cat echo rm dd mkdir true; do ln -s busybox "$rootfs/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$rootfs/etc/passwd"
tar -C "$rootfs" -cf "$work/base.tar" .
cp examples/seed/Dockerfile.split "$work/seed/Dockerfile"
chmod -R a+rX "$work/base.tar" "$work/seed"

# a store with the base imported and unpacked (nothing of the previous run's left)
fresh_store() { # as_root|as_user
  if [ "$1" = as_root ]; then rm -rf "$work/root"; else rm -rf "$work/user/store"; fi
  "$1" import "$work/base.tar" "$ref" >/dev/null
  "$1" run --rm "$ref" true >/dev/null
  sync
}
fail() { echo "rootless.sh: $* failed:" >&2; "$@" >&2 || true; exit 1; }

build=(build --build-arg "BASE=$ref" -t bench-out:x "$work/seed")
build_root=() build_user=()
for _ in $(seq "$RUNS"); do
  fresh_store as_root
  build_root+=("$(time_cmd as_root "${build[@]}")")
  as_root images bench-out:x | grep -q bench-out || fail as_root "${build[@]}"
  fresh_store as_user
  build_user+=("$(time_cmd as_user "${build[@]}")")
  as_user images bench-out:x | grep -q bench-out || fail as_user "${build[@]}"
done

as_root run --rm "$ref" true || fail as_root run --rm "$ref" true
as_user run --rm "$ref" true || fail as_user run --rm "$ref" true
run_root=() run_user=()
for _ in $(seq $((RUNS * 2))); do
  run_root+=("$(time_cmd as_root run --rm "$ref" true)")
  run_user+=("$(time_cmd as_user run --rm "$ref" true)")
done

report() { # name root-times... -- user-times...
  local name=$1 r u
  shift
  r=$(printf '%s\n' "$@" | sed '/^--$/,$d' | median)
  u=$(printf '%s\n' "$@" | sed '1,/^--$/d' | median)
  awk -v n="$name" -v r="$r" -v u="$u" -v runs="$(($# / 2))" 'BEGIN {
    printf "%-24s root %6.3fs rootless %6.3fs ratio %.2f (median of %d)\n", n, r/1e9, u/1e9, u/r, runs }'
}
report "seed-split cold build" "${build_root[@]}" -- "${build_user[@]}"
report "run --rm true" "${run_root[@]}" -- "${run_user[@]}"
