#!/usr/bin/env bash
# Moves a host's data from the root volume onto its EBS data volume, once: for hosts that ran before
# they had a data volume. Usage: move-to-data-volume.sh VOLUME_ID MOUNT_POINT LABEL
# Nothing to do (exit 0) when the move is recorded as done, when the volume is already mounted at
# MOUNT_POINT, or when MOUNT_POINT is absent or empty (a new host: mount-data-volume.sh mounts it).
# Otherwise: stop GitLab, copy MOUNT_POINT onto the volume (rsync, hard links, ACLs, extended
# attributes, numeric owners), verify the copy by checksum, then switch: the old directory becomes
# MOUNT_POINT.on-root-<UTC time>, the volume is mounted at MOUNT_POINT through /etc/fstab, and GitLab
# starts. Whatever stops it before the end (an error, a signal, a lost connection), the old directory
# is put back, fstab restored and GitLab started again; a re-run starts over. The old directory is kept
# for the administrator to delete once satisfied (docs/operations.md).
set -euo pipefail

log() { printf 'move-to-data-volume: %s\n' "$*"; }
# shellcheck source-path=SCRIPTDIR source=lib/step-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/step-common.sh"
# shellcheck source-path=SCRIPTDIR source=lib/data-volume.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/data-volume.sh"
state_dir=${DATA_VOLUME_STATE_DIR:-/var/lib/gitlab-mattermost}

if [ "$#" -ne 3 ] || ! [[ "$1" =~ ^vol-[0-9a-f]+$ ]] || [[ "$2" != /* ]]; then
    fail "usage: move-to-data-volume.sh vol-ID /MOUNT/POINT LABEL"
fi
volume_id=$1 mount_point=${2%/} label=$3
marker="$state_dir/moved-to-data-volume-$volume_id"

# What the run has done so far, so the exit trap undoes exactly that.
staging="" staging_mounted="" stopped="" old_dir="" switched_mount=""
rollback() {
    if [ -n "$staging_mounted" ]; then
        umount "$staging" || log "could not unmount $staging" >&2
    fi
    [ -z "$staging" ] || rmdir "$staging" 2>/dev/null || true
    if [ -n "$switched_mount" ]; then
        umount "$mount_point" || log "could not unmount $mount_point" >&2
    fi
    if [ -n "$old_dir" ] && [ -d "$old_dir" ]; then
        rmdir "$mount_point" 2>/dev/null || true
        if [ -e "$mount_point" ]; then
            log "$mount_point is in the way; the data is still in $old_dir: rename it back by hand" >&2
        else
            mv "$old_dir" "$mount_point" && log "put $mount_point back as it was" >&2
        fi
    fi
    if [ -n "$stopped" ]; then
        gitlab-ctl start >/dev/null || log "could not start GitLab again: run gitlab-ctl start" >&2
    fi
}
rollback_steps+=(rollback)

if [ -e "$marker" ]; then
    log "the move to $volume_id is already done"
    exit 0
fi
if ! holds_data "$mount_point"; then
    log "no data at $mount_point to move"
    exit 0
fi
find_volume_device "$volume_id"
ensure_filesystem "$device" "$label"
uuid=$(filesystem_uuid "$device")
[ -n "$uuid" ] || fail "$device has no filesystem UUID"
if mounted_at "$uuid" "$mount_point"; then
    log "$volume_id is already mounted at $mount_point"
    exit 0
fi
if mountpoint -q "$mount_point"; then
    fail "$mount_point is a mount point of another filesystem, not of $volume_id; nothing was moved"
fi

staging=$(mktemp -d "${TMPDIR:-/tmp}/data-volume.XXXXXX")
mount "UUID=$uuid" "$staging"
staging_mounted=1
# A volume that holds anything but its lost+found, or the copy of an earlier, unfinished move, is
# somebody's data: it is not overwritten.
in_progress=".gitlab-mattermost-move-in-progress"
if [ ! -e "$staging/$in_progress" ] && [ -n "$(find "$staging/" -mindepth 1 -maxdepth 1 ! -name lost+found -print -quit)" ]; then
    fail "$volume_id already holds data; it is not overwritten. Check which copy is current (docs/operations.md)"
fi
touch "$staging/$in_progress"

if command -v gitlab-ctl >/dev/null 2>&1; then
    log "stopping GitLab for the copy"
    stopped=1
    gitlab-ctl stop >/dev/null
fi
log "copying $mount_point to $volume_id"
copy_verified "$mount_point" "$staging" --exclude=/lost+found --exclude="/$in_progress"
log "the copy matches $mount_point, file by file"
umount "$staging"
staging_mounted=""
rmdir "$staging"
staging=""

old_dir="$mount_point.on-root-$(date -u +%Y%m%dT%H%M%SZ)"
keep_fstab_for_rollback
mv "$mount_point" "$old_dir"
mkdir "$mount_point"
chown --reference="$old_dir" "$mount_point"
chmod --reference="$old_dir" "$mount_point"
write_fstab_entry "$uuid" "$mount_point"
switched_mount=1
mount --fstab "$fstab" "$mount_point"
mounted_at "$uuid" "$mount_point" || fail "mount reported success, but $mount_point is not $volume_id"
rm "$mount_point/$in_progress"

install -d -m 0755 "$state_dir"
printf '%s moved to %s; the old copy is %s\n' "$mount_point" "$volume_id" "$old_dir" >"$marker"
if [ -n "$stopped" ]; then
    gitlab-ctl start >/dev/null
fi
log "moved $mount_point onto $volume_id; the old copy stays at $old_dir until you delete it"
