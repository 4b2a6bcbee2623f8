#!/usr/bin/env bash
# Enables and configures Mattermost's GitLab plugin: merges the configuration patch read from stdin
# (it holds the plugin's OAuth secret) with `mmctl --local config patch`, restarts Mattermost so a
# prepackaged plugin is installed and started, and checks that the plugin is enabled.
# The bundled Mattermost by default; given MMCTL_BINARY, a standalone host's: that release's mmctl, and
# its systemd service.
# Usage: configure-gitlab-plugin.sh PLUGIN_ID TIMEOUT_SECONDS [MMCTL_BINARY]
set -euo pipefail

plugin_id=$1 timeout=$2 mmctl_binary=${3:-}
omnibus=${OMNIBUS_DIR:-/opt/gitlab}
user=${MATTERMOST_USER:-mattermost}
ping_url=${MATTERMOST_PING_URL:-http://127.0.0.1:8065/api/v4/system/ping}
interval=${HEALTH_INTERVAL_SECONDS:-5}

log() { printf 'configure-gitlab-plugin: %s\n' "$*"; }
# shellcheck source-path=SCRIPTDIR source=lib/step-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/step-common.sh"
if [ -n "$mmctl_binary" ]; then
    mmctl() { runuser -u "$user" -- "$mmctl_binary" --local "$@"; }
    restart_mattermost() { systemctl restart mattermost.service; }
    mattermost_log=/var/log/mattermost/mattermost.log
else
    mmctl() { "$omnibus/embedded/bin/chpst" -u "$user:$user" "$omnibus/embedded/bin/mmctl" --local "$@"; }
    restart_mattermost() { "$omnibus/bin/gitlab-ctl" restart mattermost >/dev/null; }
    mattermost_log=/var/log/gitlab/mattermost/mattermost.log
fi

# mmctl runs as the mattermost user (local mode's socket is that user's), so the patch is a file
# only it can read, removed on exit.
patch=$(mktemp)
remove_patch() { rm -f "$patch"; }
cleanup_steps+=(remove_patch)
chmod 0600 "$patch"
cat >"$patch"
chown "$user:$user" "$patch"

mmctl config patch "$patch" >/dev/null
log "configuration patched"

restart_mattermost
started=$(now_ms)
until curl --silent --fail --max-time 5 "$ping_url" | grep -q '"status":"OK"'; do
    if reached "$started" "$timeout"; then
        fail "Mattermost did not answer $ping_url within ${timeout}s after the restart"
    fi
    sleep "$interval"
done

if ! mmctl plugin list | awk '/^Listing enabled plugins/ { enabled = 1; next } /^Listing disabled plugins/ { enabled = 0 } enabled' | grep -q "$plugin_id"; then
    fail "$plugin_id is not enabled after the restart; see $mattermost_log"
fi
log "$plugin_id is enabled and configured"
