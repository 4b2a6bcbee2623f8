#!/usr/bin/env bash
# Waits until every name resolves to this host's address, so that Let's Encrypt's HTTP challenge
# reaches this host on the first reconfigure.
# Usage: wait-for-dns.sh ADDRESS TIMEOUT_SECONDS NAME...
set -euo pipefail

log() { printf 'wait-for-dns: %s\n' "$*"; }
# shellcheck source-path=SCRIPTDIR source=lib/step-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/step-common.sh"

address=$1 timeout=$2
shift 2
interval=${DNS_INTERVAL_SECONDS:-10}
started=$(now_ms)
progress_start "$* to resolve to $address" "$timeout"

for name in "$@"; do
    while :; do
        resolved=$(getent ahostsv4 "$name" | awk '{ print $1 }' | sort -u | tr '\n' ' ' || true)
        if [ "${resolved% }" = "$address" ]; then
            log "$name resolves to $address"
            break
        fi
        if reached "$started" "$timeout"; then
            fail "$name resolves to \"${resolved% }\", not $address, after ${timeout}s. Check the zone delegation and the A record."

        fi
        sleep "$interval"
    done
done
