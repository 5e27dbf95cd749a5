#!/usr/bin/env bash
# Starts a Docker Engine (no iptables, no bridge) if none answers, and waits until it does.
set -euo pipefail
if docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then exit 0; fi
echo "setup: starting dockerd" >&2
nohup dockerd --iptables=false --bridge=none >/var/log/shale-dockerd.log 2>&1 &
for _ in $(seq 1 60); do
  if docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then exit 0; fi
  sleep 1
done
echo "setup: dockerd did not start; see /var/log/shale-dockerd.log" >&2
exit 1
