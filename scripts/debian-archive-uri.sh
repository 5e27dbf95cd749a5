#!/usr/bin/env bash
# Prints the Debian archive address of the machine's apt sources (deb822 .sources first, then sources.list),
# for the scripts that download packages with a private apt state; fails with a message when there is none.
set -euo pipefail
uri=$(sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v -- '-security' | head -n1 || true)
if [ -z "$uri" ]; then
  uri=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) { print $i; exit } }' /etc/apt/sources.list 2>/dev/null || true)
fi
if [ -z "$uri" ]; then echo "setup: no Debian archive address found in the machine's apt sources" >&2; exit 1; fi
echo "$uri"
