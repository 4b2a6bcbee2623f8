#!/usr/bin/env bash
# Waits until every name resolves to this host's address, so that Let's Encrypt's HTTP challenge
# reaches this host on the first reconfigure.
# Usage: wait-for-dns.sh ADDRESS TIMEOUT_SECONDS NAME...
set -euo pipefail

address=$1 timeout=$2
shift 2
interval=${DNS_INTERVAL_SECONDS:-10}
deadline=$((SECONDS + timeout))

for name in "$@"; do
    while :; do
        resolved=$(getent ahostsv4 "$name" | awk '{ print $1 }' | sort -u | tr '\n' ' ' || true)
        if [ "${resolved% }" = "$address" ]; then
            printf 'wait-for-dns: %s resolves to %s\n' "$name" "$address"
            break
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            printf 'wait-for-dns: %s resolves to "%s", not %s, after %ss. Check the zone delegation and the A record.\n' \
                "$name" "${resolved% }" "$address" "$timeout" >&2
            exit 1
        fi
        sleep "$interval"
    done
done
