#!/usr/bin/env bash
# Docker Engine 26 with BuildKit (buildx), beside the system's Docker Engine: Debian 13's packages are
# downloaded with a private apt state and unpacked into .cache/docker26/ (nothing installed system-wide), and
# dockerd is started on its own socket, data root, exec root and pid file. Safe to run again: an engine that
# already answers on the socket is left alone.
#   DOCKER26_SOCK (default /run/docker26.sock)   the engine's API socket
#   .cache/docker26/prefix/usr/bin/docker        the matching CLI; DOCKER_CONFIG=.cache/docker26/config finds buildx
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE="$PWD/.cache/docker26"
PREFIX="$CACHE/prefix"
SOCK="${DOCKER26_SOCK:-/run/docker26.sock}"
DATA_ROOT=/var/lib/docker26
EXEC_ROOT=/run/docker26
PIDFILE=/run/docker26.pid
LOG=/var/log/shale-docker26.log
PACKAGES=(docker.io docker-cli docker-buildx containerd)

mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9

docker26() { DOCKER_CONFIG="$CACHE/config" "$PREFIX/usr/bin/docker" -H "unix://$SOCK" "$@"; }
answers() { [ -x "$PREFIX/usr/bin/docker" ] && docker26 version --format '{{.Server.Version}}' >/dev/null 2>&1; }

# 1. the packages, from trixie, through an apt state of our own
if [ ! -x "$PREFIX/usr/sbin/dockerd" ] || [ ! -x "$PREFIX/usr/bin/docker" ] ||
  [ ! -x "$PREFIX/usr/libexec/docker/cli-plugins/docker-buildx" ] || [ ! -x "$PREFIX/usr/bin/containerd" ]; then
  echo "setup: fetching Docker Engine 26 (Debian 13 packages) into $CACHE" >&2
  uri=$(bash scripts/debian-archive-uri.sh)
  apt_dir="$CACHE/apt"
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/debs"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri trixie main" >"$apt_dir/sources.list"
  apt_opts=(-o "Dir::Etc::sourcelist=$apt_dir/sources.list" -o Dir::Etc::sourceparts=/dev/null
    -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache" -o Dir::State::status=/var/lib/dpkg/status
    -o APT::Sandbox::User=root -qq)
  apt-get "${apt_opts[@]}" update
  (cd "$apt_dir/debs" && rm -f ./*.deb && apt-get "${apt_opts[@]}" download "${PACKAGES[@]}")
  rm -rf "$PREFIX.new"
  mkdir -p "$PREFIX.new"
  for deb in "$apt_dir"/debs/*.deb; do dpkg-deb -x "$deb" "$PREFIX.new"; done
  rm -rf "$PREFIX"
  mv "$PREFIX.new" "$PREFIX"
  rm -rf "$apt_dir"
fi

# 2. buildx as a CLI plugin of a private CLI config
mkdir -p "$CACHE/config/cli-plugins"
ln -sfn "$PREFIX/usr/libexec/docker/cli-plugins/docker-buildx" "$CACHE/config/cli-plugins/docker-buildx"

# 3. the engine, on its own socket (it starts its own containerd from the prefix; runc is the system's)
if answers; then exit 0; fi
if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
  echo "setup: a dockerd with $PIDFILE runs but does not answer on $SOCK" >&2
else
  echo "setup: starting Docker Engine 26 on $SOCK" >&2
  rm -f "$PIDFILE"
  PATH="$PREFIX/usr/bin:$PREFIX/usr/sbin:$PATH" nohup "$PREFIX/usr/sbin/dockerd" -H "unix://$SOCK" \
    --data-root "$DATA_ROOT" --exec-root "$EXEC_ROOT" --pidfile "$PIDFILE" \
    --iptables=false --bridge=none >"$LOG" 2>&1 9>&- &
fi
for _ in $(seq 1 60); do
  if answers; then exit 0; fi
  sleep 1
done
echo "setup: Docker Engine 26 did not start on $SOCK; see $LOG" >&2
exit 1
