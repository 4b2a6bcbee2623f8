#!/usr/bin/env bash
# Makes the backup timers run: installs rclone (the S3 client the backup tools use) and zstd (which
# compresses the Mattermost dump) if they are missing, reloads systemd's view of the unit files, and enables and starts each timer.
# Usage: enable-backups.sh TIMER...
set -euo pipefail

log() { printf 'enable-backups: %s\n' "$*"; }
# shellcheck source-path=SCRIPTDIR source=lib/step-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/step-common.sh"
# shellcheck source-path=SCRIPTDIR source=lib/packages.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/packages.sh"

missing=()
for program in rclone zstd; do
    command -v "$program" >/dev/null 2>&1 || missing+=("$program")
done
if [ "${#missing[@]}" -gt 0 ]; then
    resume_interrupted_dpkg
    DEBIAN_FRONTEND=noninteractive apt-get "${apt_options[@]}" install -y -q "${missing[@]}"
fi
systemctl daemon-reload
for timer in "$@"; do
    systemctl enable --now "$timer"
    log "$timer: $(systemctl show --property=NextElapseUSecRealtime --value "$timer")"
done
