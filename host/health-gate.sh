#!/usr/bin/env bash
# Waits until a service answers healthy through this host's own nginx, or fails with its log lines.
# Usage: health-gate.sh gitlab|mattermost|mattermost-standalone URL TIMEOUT_SECONDS [CA_FILE]
#   CA_FILE: the private CA that signed the host's certificate, when it is not publicly trusted.
#   gitlab:     GET URL/-/readiness must answer 200 with "status":"ok"
#   mattermost: GET URL/api/v4/system/ping must answer 200 with "status":"OK"
#   mattermost-standalone: the same, on a standalone Mattermost host (its own log paths)
set -euo pipefail

log() { printf 'health-gate: %s\n' "$*"; }
# shellcheck source-path=SCRIPTDIR source=lib/step-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/step-common.sh"

service=$1 url=$2 timeout=$3 ca_file=${4:-}
log_root=${GITLAB_LOG_DIR:-/var/log/gitlab}
interval=${HEALTH_INTERVAL_SECONDS:-10}

case "$service" in
gitlab)
    path=/-/readiness expected='"status":"ok"'
    logs=("$log_root/puma/current" "$log_root/gitlab-rails/production.log" "$log_root/nginx/gitlab_error.log")
    ;;
mattermost)
    path=/api/v4/system/ping expected='"status":"OK"'
    logs=("$log_root/mattermost/current" "$log_root/mattermost/mattermost.log" "$log_root/nginx/gitlab_mattermost_error.log")
    ;;
mattermost-standalone)
    path=/api/v4/system/ping expected='"status":"OK"'
    logs=("${STANDALONE_LOG_DIR:-/var/log/mattermost}/mattermost.log" "${NGINX_LOG_DIR:-/var/log/nginx}/error.log")
    ;;
*)
    failure="unknown service $service (gitlab, mattermost or mattermost-standalone)"
    exit 2
    ;;
esac

host=${url#*://}
case "$url" in https://*) port=443 ;; *) port=80 ;; esac

trust=()
if [ -n "$ca_file" ]; then
    trust=(--cacert "$ca_file")
fi

started=$(now_ms)
body=""
progress_start "$service to answer healthy at $url$path" "$timeout"
while :; do
    # --resolve sends the request to this host while keeping the real name for TLS and nginx's vhost.
    if body=$(curl --silent --show-error --max-time 10 --fail "${trust[@]}" --resolve "$host:$port:127.0.0.1" "$url$path" 2>&1) &&
        [[ "$body" == *"$expected"* ]]; then
        log "$service is healthy at $url$path"
        exit 0
    fi
    if reached "$started" "$timeout"; then
        break
    fi
    sleep "$interval"
done
progress_stop

for file in "${logs[@]}"; do
    if [ -r "$file" ]; then
        printf -- '--- last lines of %s\n' "$file"
        tail -n 30 "$file"
    fi
done >&2
fail "$service did not answer healthy at $url$path within ${timeout}s; last answer: ${body//$'\n'/ }"
