#!/usr/bin/env bash
# Backs up Mattermost, bundled in Omnibus or standalone, to S3 (installed as
# /usr/local/sbin/mattermost-backup; the systemd timer runs it, so its output goes to the journal).
# Exits non-zero on any failure.
#
# One backup is the folder <BACKUP_REMOTE>/<BACKUP_STACK>/mattermost/<UTC YYYYmmddTHHMMSSZ>/ holding:
#   mattermost.dump.zst     pg_dump of the Mattermost database, custom format, compressed by zstd
#                           (backups made before are mattermost.dump, compressed by pg_dump; the
#                           restore reads both)
#   mattermost-data.tar.gz  the Mattermost data directory (uploaded files)
#   mattermost-plugins.tar.gz, mattermost-client-plugins.tar.gz
#                           the plugin directories (plugins installed by an administrator live only
#                           there)
#   config.json             Mattermost's config.json
#   gitlab-etc.tar.gz       on Omnibus: /etc/gitlab/gitlab-secrets.json (Mattermost's at-rest key,
#                           OAuth credentials) and /etc/gitlab/gitlab.rb; on a standalone Mattermost
#                           host, mattermost-etc.tar.gz: /etc/mattermost/mattermost.env (MM_ETC_*;
#                           empty in the backup before an upgrade on a replaced instance, below)
#   manifest.txt            "<sha256> <size> <name>" per file, uploaded LAST: a folder without it is an
#                           incomplete backup, which mattermost-restore refuses.
# On success the timestamp is written to $BACKUP_STATE_DIR/mattermost-backup.last-success and to
# <BACKUP_REMOTE>/<BACKUP_STACK>/mattermost/last-success.txt. Then older backups beyond the newest
# $BACKUP_KEEP_NEWEST are tagged expirable (apply_retention in backup-common.sh).
#
# Settings: the environment, then the KEY=value file $BACKUP_ENV_FILE, then Omnibus's defaults (below,
# and load_mattermost_settings in backup-common.sh for the host's paths, database and commands).
# rclone is configured only through RCLONE_CONFIG_<REMOTE>_* variables (on AWS: env_auth with the
# instance profile); no credentials are ever written to a file or a command line by this script.
set -euo pipefail

tool=mattermost-backup
# Shared by the backup tools: log, fail, and reading the settings file. Installed beside them.
# shellcheck source-path=SCRIPTDIR source=backup-common.sh
. "${BACKUP_COMMON:-/usr/local/lib/gitlab-mattermost/backup-common.sh}"
: "${BACKUP_REMOTE:?set BACKUP_REMOTE to the rclone remote and bucket, e.g. backup:my-bucket}"
: "${BACKUP_STACK:?set BACKUP_STACK to the stack name}"
load_mattermost_settings
state_dir=${BACKUP_STATE_DIR:-/var/lib/gitlab-mattermost}
# zstd for the dump: level 5 with a 4 MiB window (wlog=22, level 5's own is 2 MiB) and matches of 6
# bytes or more (mml=6, its own 5): 0.60x the size of the guide's gzip in 0.85x its CPU time. Level 9
# (0.58x, but 1.3x to 1.6x gzip's CPU time) made the backup slower than the guide's on 2 shared CPUs
# (npm run bench:backup prints all three; README "How fast"). BACKUP_ZSTD_LEVEL sets the level only.
zstd_args=(-T0 -"${BACKUP_ZSTD_LEVEL:-5}" "--zstd=wlog=22,mml=6")
# Only the environment configures rclone, whatever files root may have.
export RCLONE_CONFIG=/dev/null


# GNU tar exits 1 when a file changed while it was read. Mattermost keeps running during the backup,
# and such an archive is still complete and readable, so only a status above 1 is a failure.
archive() {
    local status=0
    tar "$@" || status=$?
    if [ "$status" -eq 1 ]; then
        log "warning: files changed while they were archived (Mattermost was running); archive kept"
    fi
    [ "$status" -le 1 ]
}

# Archives the contents of plugin directory $2 as $work/upload/$1. Mattermost creates a plugin
# directory only once it needs it, so one that does not exist yet is archived empty.
archive_plugin_dir() {
    local source=$2
    if [ ! -d "$source" ]; then
        source="$work/empty"
        mkdir -p "$source"
    fi
    archive --create --gzip --file="$work/upload/$1" --directory="$source" .
}

begin_backup_run mattermost mattermost

# Custom format (-Fc), not directory (-Fd): pg_restore --jobs restores either in parallel (tables,
# then every index and constraint as its own job), which is where a restore spends its time; -Fd
# would only add a parallel dump, which matters less on 2 cores than one file that streams to stdout
# (so root owns it) and uploads as one object. pg_dump does not compress (-Z0); zstd does, in its
# own process beside pg_dump, on every PostgreSQL version alike (pg_dump's own --compress=zstd needs
# 16 or later and compresses in pg_dump's process). The restore decompresses it to a file, where
# pg_restore --jobs can seek.
log "dumping database $mm_db: pg_dump --format=custom --compress=0 | zstd ${zstd_args[*]}"
mkdir "$work/upload"
as_pg "$pg_bin/pg_dump" --format=custom --compress=0 --no-password --dbname="$mm_db" |
    zstd --quiet --no-progress "${zstd_args[@]}" >"$work/upload/mattermost.dump.zst"

# Dumped first, archived second: every file the dump references is already on disk when tar runs.
log "archiving $mm_data_dir, $mm_plugin_dir and $mm_client_plugin_dir"
# A restore onto a data directory that is a mount point keeps its side copies inside it; they are
# not Mattermost's data.
archive --create --gzip --file="$work/upload/mattermost-data.tar.gz" --directory="$mm_data_dir" \
    --exclude='./.restore-*' --exclude='./.before-restore-*' --exclude='./.failed-restore-*' .
archive_plugin_dir mattermost-plugins.tar.gz "$mm_plugin_dir"
archive_plugin_dir mattermost-client-plugins.tar.gz "$mm_client_plugin_dir"
cp "$mm_config" "$work/upload/config.json"
# A replaced standalone instance has no environment file until its settings step writes it, which
# comes after the upgrade's backup; upgrade-mattermost.sh then sets BACKUP_ETC_MAY_BE_ABSENT=yes, and
# the archive holds the files there are. Anywhere else a missing file fails the backup.
etc_present=()
for name in "${etc_files[@]}"; do
    if [ -e "$etc_dir/$name" ]; then
        etc_present+=("$name")
    elif [ "${BACKUP_ETC_MAY_BE_ABSENT:-no}" = yes ]; then
        log "$etc_dir/$name is not on this host yet: this backup holds no copy of it"
    else
        fail "$etc_dir/$name is missing; nothing was uploaded"
    fi
done
archive --create --gzip --file="$work/upload/$etc_archive" --directory="$etc_dir" --files-from=/dev/null "${etc_present[@]}"

files=(mattermost.dump.zst mattermost-data.tar.gz mattermost-plugins.tar.gz mattermost-client-plugins.tar.gz config.json "$etc_archive")
{
    printf '# mattermost backup %s of stack %s, database %s\n' "$timestamp" "$BACKUP_STACK" "$mm_db"
    printf '# %s\n' "$("$pg_bin/pg_dump" --version)"
    for name in "${files[@]}"; do
        printf '%s %s %s\n' "$(sha256sum <"$work/upload/$name" | cut -d' ' -f1)" "$(stat -c %s "$work/upload/$name")" "$name"
    done
} >"$work/manifest.txt.partial"
mv "$work/manifest.txt.partial" "$work/manifest.txt"

# One rclone run for the files (in parallel, each checked against its MD5 by rclone), and only when
# all of them are up, the manifest.
log "uploading ${files[*]} to $destination/"
rclone copy "$work/upload" "$destination"
log "uploading $destination/manifest.txt"
rclone copyto "$work/manifest.txt" "$destination/manifest.txt"

record_success
apply_retention
log "backup $timestamp complete: $destination/"
