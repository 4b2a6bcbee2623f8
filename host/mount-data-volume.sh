#!/usr/bin/env bash
# Mounts a host's EBS data volume at its mount point, by filesystem UUID through /etc/fstab, before the
# package installs, and keeps configuration directories on it too.
# Usage: mount-data-volume.sh VOLUME_ID MOUNT_POINT LABEL [KEPT_DIR...]
# First use: a volume with no signature at all gets an ext4 filesystem labelled LABEL. Re-attached to a
# new instance, a volume that holds data is mounted as it is: nothing with any signature is formatted.
# A mount point that already holds data on the root volume is refused: move-to-data-volume.sh moves it.
# Each KEPT_DIR (e.g. /etc/gitlab, whose gitlab-secrets.json holds the keys to GitLab's and
# Mattermost's encrypted data) lives on the volume, at MOUNT_POINT/<its path with / as ->
# (/var/opt/gitlab/etc-gitlab), bind-mounted at KEPT_DIR through fstab. The volume's copy always wins:
# - the volume has none yet: KEPT_DIR's content on the root volume is copied there and verified first;
# - the volume has one: it is used as it is, and whatever the instance holds at KEPT_DIR is set aside
#   as KEPT_DIR.on-root-<UTC time>, never mixed in.
# Whatever ends a run early, what it changed is undone; re-running changes nothing once all is in place.
set -euo pipefail

log() { printf 'mount-data-volume: %s\n' "$*"; }
# shellcheck source-path=SCRIPTDIR source=lib/step-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/step-common.sh"
# shellcheck source-path=SCRIPTDIR source=lib/data-volume.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/data-volume.sh"

usage="usage: mount-data-volume.sh vol-ID /MOUNT/POINT LABEL [/KEPT/DIR...]"
if [ "$#" -lt 3 ] || ! [[ "$1" =~ ^vol-[0-9a-f]+$ ]] || [[ "$2" != /* ]]; then
    fail "$usage"
fi
volume_id=$1 mount_point=${2%/} label=$3
shift 3
kept_dirs=()
for kept in "$@"; do
    kept=${kept%/}
    if [[ "$kept" != /?* ]] || [[ "$kept" == "$mount_point" || "$kept" == "$mount_point"/* || "$mount_point" == "$kept"/* ]]; then
        fail "$usage: a kept directory is an absolute path outside the mount point, got $kept"
    fi
    kept_dirs+=("$kept")
done

# What the kept directory being switched has changed so far, so a failure undoes exactly that.
created_on_volume="" set_aside="" bound=""
undo_keep() {
    if [ -n "$bound" ]; then
        umount "$bound" || log "could not unmount $bound" >&2
    fi
    if [ -n "$set_aside" ]; then
        local kept=${set_aside%.on-root-*}
        rmdir "$kept" 2>/dev/null || true
        if [ -e "$kept" ]; then
            log "$kept is in the way; the instance's copy is still in $set_aside: rename it back by hand" >&2
            return 0
        fi
        mv "$set_aside" "$kept" && log "put $kept back as it was" >&2
    fi
    # Only what this run copied there: the original is back in place.
    [ -z "$created_on_volume" ] || rm -rf "$created_on_volume"
}
rollback_steps+=(undo_keep)

# Keeps directory $1 on the volume, bind-mounted in its place (see the header).
keep_on_volume() {
    local kept=$1 on_volume staged
    on_volume="$mount_point/$(tr / - <<<"${kept#/}")"
    local line="$on_volume $kept none bind,nofail,x-systemd.requires-mounts-for=$mount_point 0 0"
    if same_directory "$kept" "$on_volume"; then
        write_fstab_line "$kept" "$line"
        log "$kept is kept on $volume_id"
        return 0
    fi
    if mountpoint -q "$kept"; then
        fail "$kept is a mount point of another filesystem, not of $on_volume; unmount it, then run the step again"
    fi
    keep_fstab_for_rollback
    if [ ! -d "$on_volume" ]; then
        staged="$on_volume.partial"
        rm -rf "$staged"
        mkdir "$staged"
        created_on_volume=$staged
        if [ -d "$kept" ]; then
            chown --reference="$kept" "$staged"
            chmod --reference="$kept" "$staged"
            copy_verified "$kept" "$staged"
            log "copied $kept onto $volume_id, and the copy matches it, file by file"
        else
            chmod 0775 "$staged"
        fi
        mv "$staged" "$on_volume"
        created_on_volume=$on_volume
    elif holds_data "$kept"; then
        log "$volume_id already holds $kept: its copy is used, not the instance's"
    fi
    if holds_data "$kept"; then
        set_aside="$kept.on-root-$(date -u +%Y%m%dT%H%M%SZ)"
        mv "$kept" "$set_aside"
        log "the instance's $kept stays at $set_aside until you delete it"
    fi
    [ -d "$kept" ] || mkdir -p "$kept"
    chown --reference="$on_volume" "$kept"
    chmod --reference="$on_volume" "$kept"
    write_fstab_line "$kept" "$line"
    bound=$kept
    mount --fstab "$fstab" "$kept"
    same_directory "$kept" "$on_volume" || fail "mount reported success, but $kept is not $on_volume"
    log "$kept is kept on $volume_id, at $on_volume"
    created_on_volume="" set_aside="" bound=""
}

find_volume_device "$volume_id"
ensure_filesystem "$device" "$label"
uuid=$(filesystem_uuid "$device")
[ -n "$uuid" ] || fail "$device has no filesystem UUID"

if mounted_at "$uuid" "$mount_point"; then
    write_fstab_entry "$uuid" "$mount_point"
    log "$volume_id is mounted at $mount_point"
else
    if mountpoint -q "$mount_point"; then
        fail "$mount_point is a mount point of another filesystem, not of $volume_id; unmount it, then run the step again"
    fi
    if holds_data "$mount_point"; then
        fail "$mount_point holds data on the root volume; the move to the data volume (move-to-data-volume.sh) copies it there first"
    fi
    mkdir -p "$mount_point"
    write_fstab_entry "$uuid" "$mount_point"
    mount --fstab "$fstab" "$mount_point"
    mounted_at "$uuid" "$mount_point" || fail "mount reported success, but $mount_point is not $volume_id"
    log "mounted $volume_id ($device, UUID $uuid) at $mount_point"
fi
for kept in "${kept_dirs[@]}"; do
    keep_on_volume "$kept"
done
