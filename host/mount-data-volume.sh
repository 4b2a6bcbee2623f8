#!/usr/bin/env bash
# Mounts a host's EBS data volume at its mount point, by filesystem UUID through /etc/fstab, before the
# package installs. Usage: mount-data-volume.sh VOLUME_ID MOUNT_POINT LABEL
# First use: a volume with no signature at all gets an ext4 filesystem labelled LABEL. Re-attached to a
# new instance, a volume that holds data is mounted as it is: nothing with any signature is formatted.
# A mount point that already holds data on the root volume is refused: move-to-data-volume.sh moves it.
# Re-running changes nothing once the volume is mounted and its fstab line is in place.
set -euo pipefail

log() { printf 'mount-data-volume: %s\n' "$*"; }
# shellcheck source-path=SCRIPTDIR source=lib/step-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/step-common.sh"
# shellcheck source-path=SCRIPTDIR source=lib/data-volume.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/data-volume.sh"

if [ "$#" -ne 3 ] || ! [[ "$1" =~ ^vol-[0-9a-f]+$ ]] || [[ "$2" != /* ]]; then
    fail "usage: mount-data-volume.sh vol-ID /MOUNT/POINT LABEL"
fi
volume_id=$1 mount_point=$2 label=$3

find_volume_device "$volume_id"
ensure_filesystem "$device" "$label"
uuid=$(filesystem_uuid "$device")
[ -n "$uuid" ] || fail "$device has no filesystem UUID"

if mounted_at "$uuid" "$mount_point"; then
    write_fstab_entry "$uuid" "$mount_point"
    log "$volume_id is mounted at $mount_point"
    exit 0
fi
if mountpoint -q "$mount_point"; then
    fail "$mount_point is a mount point of another filesystem, not of $volume_id; unmount it, then run the step again"
fi
if [ -d "$mount_point" ] && [ -n "$(ls -A "$mount_point")" ]; then
    fail "$mount_point holds data on the root volume; the move to the data volume (move-to-data-volume.sh) copies it there first"
fi
mkdir -p "$mount_point"
write_fstab_entry "$uuid" "$mount_point"
mount --fstab "$fstab" "$mount_point"
mounted_at "$uuid" "$mount_point" || fail "mount reported success, but $mount_point is not $volume_id"
log "mounted $volume_id ($device, UUID $uuid) at $mount_point"
