#!/usr/bin/env bash
# Backs up GitLab on its host (installed as /usr/local/sbin/gitlab-full-backup, not gitlab-backup, which
# is Omnibus's own command that this one runs; the systemd timer runs it, so its output goes to the
# journal). Exits non-zero on any failure.
#   1. `gitlab-backup create`: GitLab's own backup, which Omnibus uploads to the bucket itself through
#      gitlab_rails['backup_upload_connection'], with DIRECTORY= into this run's folder (step 3), so
#      that it is read, listed and expired with the rest of the backup. It holds no /etc/gitlab, hence
#      step 2.
#   2. `gitlab-ctl backup-etc` into a temporary directory: /etc/gitlab as one tarball, including
#      gitlab-secrets.json, without which a GitLab backup's encrypted data cannot be read.
#   3. uploads that tarball to <BACKUP_REMOTE>/<BACKUP_STACK>/gitlab-etc/<UTC YYYYmmddTHHMMSSZ>/ and
#      then, LAST, manifest.txt ("<sha256> <size> <name>" of the tarball): a folder without it is
#      incomplete.
#   4. tags older backups beyond the newest $BACKUP_KEEP_NEWEST expirable (apply_retention).
# On success the timestamp is written to $BACKUP_STATE_DIR/gitlab-full-backup.last-success and to
# <BACKUP_REMOTE>/<BACKUP_STACK>/gitlab-etc/last-success.txt.
# A GitLab backup restores only onto the same GitLab version and edition.
#
# Settings: the environment, then the KEY=value file $BACKUP_ENV_FILE, then Omnibus's defaults below;
# rclone only through RCLONE_CONFIG_<REMOTE>_* variables, as in mattermost-backup.
set -euo pipefail

tool=gitlab-full-backup
# Shared by the backup tools: log, fail, and reading the settings file. Installed beside them.
# shellcheck source-path=SCRIPTDIR source=backup-common.sh
. "${BACKUP_COMMON:-/usr/local/lib/gitlab-mattermost/backup-common.sh}"

: "${BACKUP_REMOTE:?set BACKUP_REMOTE to the rclone remote and bucket, e.g. backup:my-bucket}"
: "${BACKUP_STACK:?set BACKUP_STACK to the stack name}"
omnibus=${OMNIBUS_DIR:-/opt/gitlab}
state_dir=${BACKUP_STATE_DIR:-/var/lib/gitlab-mattermost}
export RCLONE_CONFIG=/dev/null

begin_backup_run gitlab gitlab-etc

log "gitlab-backup create (Omnibus uploads it to $destination/)"
# DIRECTORY is the key prefix within the bucket (backup_upload_remote_directory).
"$omnibus/bin/gitlab-backup" create "DIRECTORY=${destination#"$BACKUP_REMOTE/"}"

log "gitlab-ctl backup-etc"
install -d -m 0700 "$work/etc"
"$omnibus/bin/gitlab-ctl" backup-etc --backup-path "$work/etc"
shopt -s nullglob
tarballs=("$work/etc"/*.tar)
shopt -u nullglob
[ "${#tarballs[@]}" -eq 1 ] || fail "gitlab-ctl backup-etc left ${#tarballs[@]} tarballs in its backup path, expected 1"
tarball=$(basename "${tarballs[0]}")
[[ "$tarball" =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] || fail "unexpected tarball name: $tarball"

{
    printf '# gitlab /etc/gitlab backup %s of stack %s\n' "$timestamp" "$BACKUP_STACK"
    printf '%s %s %s\n' "$(sha256sum <"$work/etc/$tarball" | cut -d' ' -f1)" "$(stat -c %s "$work/etc/$tarball")" "$tarball"
} >"$work/manifest.txt.partial"
mv "$work/manifest.txt.partial" "$work/manifest.txt"

log "uploading $destination/$tarball"
rclone copyto "$work/etc/$tarball" "$destination/$tarball"
log "uploading $destination/manifest.txt"
rclone copyto "$work/manifest.txt" "$destination/manifest.txt"

record_success
apply_retention
log "backup $timestamp complete: GitLab's backup and /etc/gitlab at $destination/"
