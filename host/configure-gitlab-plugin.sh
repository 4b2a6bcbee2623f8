#!/usr/bin/env bash
# Enables and configures Mattermost's GitLab plugin: merges the configuration patch read from stdin
# (it holds the plugin's OAuth secret) with `mmctl --local config patch`, restarts Mattermost so a
# prepackaged plugin is installed and started, and checks that the plugin is enabled.
# Usage: configure-gitlab-plugin.sh PLUGIN_ID TIMEOUT_SECONDS
set -euo pipefail

plugin_id=$1 timeout=$2
omnibus=${OMNIBUS_DIR:-/opt/gitlab}
user=${MATTERMOST_USER:-mattermost}
ping_url=${MATTERMOST_PING_URL:-http://127.0.0.1:8065/api/v4/system/ping}
interval=${HEALTH_INTERVAL_SECONDS:-5}

log() { printf 'configure-gitlab-plugin: %s\n' "$*"; }
as_mattermost() { "$omnibus/embedded/bin/chpst" -u "$user:$user" "$@"; }
mmctl() { as_mattermost "$omnibus/embedded/bin/mmctl" --local "$@"; }

# mmctl runs as the mattermost user (local mode's socket is that user's), so the patch is a file
# only it can read, removed on exit.
patch=$(mktemp)
trap 'rm -f "$patch"' EXIT
chmod 0600 "$patch"
cat >"$patch"
chown "$user:$user" "$patch"

mmctl config patch "$patch" >/dev/null
log "configuration patched"

"$omnibus/bin/gitlab-ctl" restart mattermost >/dev/null
deadline=$((SECONDS + timeout))
until curl --silent --fail --max-time 5 "$ping_url" | grep -q '"status":"OK"'; do
    if [ "$SECONDS" -ge "$deadline" ]; then
        log "Mattermost did not answer $ping_url within ${timeout}s after the restart" >&2
        exit 1
    fi
    sleep "$interval"
done

if ! mmctl plugin list | awk '/^Listing enabled plugins/ { enabled = 1; next } /^Listing disabled plugins/ { enabled = 0 } enabled' | grep -q "$plugin_id"; then
    log "$plugin_id is not enabled after the restart; see /var/log/gitlab/mattermost/mattermost.log" >&2
    exit 1
fi
log "$plugin_id is enabled and configured"
