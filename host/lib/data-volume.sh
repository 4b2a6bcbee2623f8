# shellcheck shell=bash
# Shared by the data volume scripts (mount-data-volume.sh, move-to-data-volume.sh): finding the EBS
# volume's device, giving a blank volume its filesystem, and the /etc/fstab entry that mounts it.
# The script defines log() and fail() (which records the reason and exits 1) before it sources this.

disk_by_id=${DISK_BY_ID_DIR:-/dev/disk/by-id}
fstab=${FSTAB:-/etc/fstab}
device_wait_seconds=${DEVICE_WAIT_SECONDS:-300}

# Sets `device` to the volume's block device. On Nitro instances an EBS volume is an NVMe device whose
# serial is the volume id without its dash; udev names a link after it. The device name given to the
# attachment (/dev/sdf) is only a hint there, so the volume is found by its id.
device=""
find_volume_device() {
    local volume_id=$1 link started
    link="$disk_by_id/nvme-Amazon_Elastic_Block_Store_${volume_id//-/}"
    started=$(now_ms)
    until [ -e "$link" ]; do
        if reached "$started" "$device_wait_seconds"; then
            fail "volume $volume_id did not appear as $link within ${device_wait_seconds}s; check that it is attached to this instance (aws ec2 describe-volumes --volume-ids $volume_id)"
        fi
        sleep 1
    done
    # shellcheck disable=SC2034 # read by the script that sources this file
    device=$(readlink -f "$link")
}

# Gives the device an ext4 filesystem labelled $2 only when it carries no signature at all: no
# filesystem, no partition table, nothing blkid or wipefs recognises. Anything else is left as it is:
# an ext4 filesystem is used as found, and any other content stops the script untouched.
ensure_filesystem() {
    local dev=$1 label=$2 probe status=0 signatures
    probe=$(blkid -p -o export "$dev") || status=$?
    # blkid -p: 0 found something, 2 found nothing; anything else (ambivalent probe, error) is unknown.
    case "$status" in
    0) ;;
    2)
        signatures=$(wipefs --no-act --noheadings "$dev") || fail "wipefs could not read $dev; nothing was changed"
        if [ -n "$signatures" ]; then
            fail "$dev has no filesystem blkid recognises, but wipefs sees signatures; refusing to format it. wipefs reported: $signatures"
        fi
        log "$dev is blank: creating an ext4 filesystem labelled $label"
        mkfs.ext4 -q -L "$label" "$dev"
        probe=$(blkid -p -o export "$dev") || fail "blkid does not see the filesystem just created on $dev"
        ;;
    *) fail "blkid could not tell what $dev holds (exit $status); refusing to format or mount it" ;;
    esac
    if ! grep -qx 'TYPE=ext4' <<<"$probe" || grep -q '^PTTYPE=' <<<"$probe"; then
        fail "$dev holds something other than a bare ext4 filesystem (${probe//$'\n'/ }); it is left untouched. Check the volume, or attach the right one."
    fi
}

# The filesystem UUID of a device, as the fstab entry names it.
filesystem_uuid() {
    blkid -p -o value -s UUID "$1"
}

# Whether the filesystem with UUID $1 is mounted at $2.
mounted_at() {
    local uuid=$1 target=$2
    findmnt -rn -S "UUID=$uuid" -o TARGET | grep -qxF -- "$target"
}

# Writes fstab line $2 for mount point $1, replacing any line for that mount point: to a temporary
# file beside fstab, checked with findmnt --verify, then renamed over it.
fstab_staged=""
# A staged fstab that was never renamed into place goes, however the run ends.
remove_staged_fstab() {
    [ -z "$fstab_staged" ] || rm -f "$fstab_staged"
}
cleanup_steps+=(remove_staged_fstab)
write_fstab_line() {
    local mount_point=$1 line=$2
    if grep -qxF -- "$line" "$fstab"; then
        return 0
    fi
    fstab_staged=$(mktemp "$fstab.XXXXXX")
    awk -v target="$mount_point" '$1 ~ /^#/ || $2 != target' "$fstab" >"$fstab_staged"
    printf '%s\n' "$line" >>"$fstab_staged"
    chmod --reference="$fstab" "$fstab_staged"
    findmnt --verify --tab-file "$fstab_staged" >/dev/null || fail "the new fstab does not verify (findmnt --verify --tab-file $fstab_staged); $fstab is unchanged"
    mv -f "$fstab_staged" "$fstab"
    fstab_staged=""
    # systemd generates mount units from fstab; it reads the new entry only on a reload.
    systemctl daemon-reload
}

# The fstab line that mounts the filesystem with UUID $1 at $2.
# `nofail`: a host whose volume is missing still boots, so it can be reached and repaired.
write_fstab_entry() {
    write_fstab_line "$2" "UUID=$1 $2 ext4 defaults,nofail,x-systemd.device-timeout=60s 0 2"
}

# A copy of fstab taken before a run changes it, renamed back over it if the run fails.
fstab_before=""
keep_fstab_for_rollback() {
    [ -n "$fstab_before" ] && return 0
    fstab_before=$(mktemp "$fstab.before.XXXXXX")
    cp -p "$fstab" "$fstab_before"
}
restore_fstab() {
    [ -n "$fstab_before" ] || return 0
    if mv -f "$fstab_before" "$fstab"; then
        fstab_before=""
        systemctl daemon-reload || true
    else
        log "could not restore $fstab from $fstab_before" >&2
    fi
}
remove_fstab_before() {
    [ -z "$fstab_before" ] || rm -f "$fstab_before"
}
rollback_steps+=(restore_fstab)
cleanup_steps+=(remove_fstab_before)

# Copies directory $1 into directory $2 with everything that makes it the same tree (hard links,
# ACLs, extended attributes, numeric owners; $2 ends up holding nothing else), then compares the two
# file by file, by checksum. Further arguments are rsync options, e.g. --exclude=PATTERN.
copy_verified() {
    local from=$1 to=$2 differences
    shift 2
    local options=(-aHAX --numeric-ids --delete "$@")
    rsync "${options[@]}" "$from/" "$to/"
    differences=$(rsync "${options[@]}" --dry-run --checksum --itemize-changes "$from/" "$to/")
    if [ -n "$differences" ]; then
        fail "the copy of $from at $to differs from it: ${differences//$'\n'/; }"
    fi
}

# Whether $1 and $2 are the same directory: a bind mount of one at the other, or the same path.
same_directory() {
    [ -d "$1" ] && [ -d "$2" ] && [ "$(stat -L -c %d:%i "$1")" = "$(stat -L -c %d:%i "$2")" ]
}

# Whether directory $1 exists and holds anything.
holds_data() {
    [ -d "$1" ] && [ -n "$(ls -A "$1")" ]
}
