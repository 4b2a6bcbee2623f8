#!/usr/bin/env bash
# Runs on the host that ran the bundled Mattermost, once the standalone host has verified the move:
# the bundle must stay stopped, its data kept as it is. Its backup timer stops (a backup of the stale
# bundle would become the newest in Mattermost's backup folder), and runit keeps the service down at
# boot (a `down` file in its service directory; runsv(8)). Re-running changes nothing.
# Usage: retire-bundled-mattermost.sh   (MM_SERVICE_DIR is for tests)
set -euo pipefail

log() { printf 'retire-bundled-mattermost: %s\n' "$*"; }
# shellcheck source-path=SCRIPTDIR source=../lib/step-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/step-common.sh"

service_dir=${MM_SERVICE_DIR:-/opt/gitlab/sv/mattermost}
timer=mattermost-backup.timer

failure="stopping $timer"
if [ -n "$(systemctl list-unit-files --no-legend "$timer")" ]; then
    systemctl disable --now "$timer"
    log "$timer is stopped and disabled"
fi
if [ -d "$service_dir" ]; then
    failure="writing $service_dir/down"
    touch "$service_dir/down.new"
    mv -f "$service_dir/down.new" "$service_dir/down"
    log "runit keeps the bundled Mattermost down at boot ($service_dir/down)"
fi
log "the bundled Mattermost stays stopped; its database and files are kept until gitlab-mattermost:mattermost.removeBundledData is set"
