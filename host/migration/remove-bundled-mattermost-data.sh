#!/usr/bin/env bash
# Removes what the bundled Mattermost left on its host once it has moved to the standalone host
# (mattermost.removeBundledData): database mattermost_production, and the data, plugins and
# client-plugins folders and config.json under the package's Mattermost home. Only when
#   - the move is complete (the migration folder's completed.txt names its run), and
#   - a backup of the standalone Mattermost newer than that run is complete in the bucket: its
#     last-success.txt names it, and every file its manifest lists is there with the listed size;
#   - and the bundled Mattermost does not answer (it stays stopped after the move).
# Otherwise it removes nothing and says why. Re-running after a removal changes nothing.
# Usage: remove-bundled-mattermost-data.sh [STANDALONE_BACKUP_FOLDER]  (below the stack's folder; default mattermost)
# Settings as export-bundled-mattermost.sh.
set -Eeuo pipefail
log() { printf 'remove-bundled-mattermost-data: %s\n' "$*"; }
# shellcheck source-path=SCRIPTDIR source=../lib/step-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/step-common.sh"
# shellcheck source-path=SCRIPTDIR source=migration-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/migration-common.sh"

backup_folder="$BACKUP_REMOTE/$BACKUP_STACK/${1:-mattermost}"
pg_bin=${PG_BIN:-/opt/gitlab/embedded/bin}
pg_run_as=${PG_RUN_AS-gitlab-psql}
export PGHOST=${PG_HOST:-/var/opt/gitlab/postgresql} PGPORT=${PG_PORT:-5432} PGUSER=${PG_USER:-gitlab-psql}
mm_db=${MM_DB:-mattermost_production}
mm_home=${MM_HOME:-/var/opt/gitlab/mattermost}
removed_record="$state_dir/mattermost-migration.bundled-data-removed"

cd /
umask 077
install -d -m 0700 "$state_dir"
exec 8>>"$state_dir/mattermost-migration.lock"
flock -n 8 || fail "another migration run holds $state_dir/mattermost-migration.lock"

if [ -e "$removed_record" ]; then
    log "the bundled Mattermost's data was removed before ($(cat "$removed_record")); nothing to do"
    exit 0
fi
moved=$(read_object completed.txt || true)
[ -n "$moved" ] || fail "Mattermost has not moved to the standalone host ($migration_folder/completed.txt is missing); nothing was removed"
backup=$(rclone cat "$backup_folder/last-success.txt" </dev/null 2>/dev/null || true)
[[ "$backup" > "$moved" ]] ||
    fail "no backup of the standalone Mattermost newer than the move ($moved) is recorded in $backup_folder/last-success.txt (${backup:-none}); run mattermost-backup on the standalone host first. Nothing was removed"
listing=$(rclone lsf --format sp --separator ' ' "$backup_folder/$backup/" </dev/null) || fail "cannot list backup $backup_folder/$backup/"
manifest=$(rclone cat "$backup_folder/$backup/manifest.txt" </dev/null) || fail "backup $backup has no manifest.txt: it is incomplete. Nothing was removed"
while read -r _sum size name; do
    grep -qxF "$size $name" <<<"$listing" || fail "backup $backup lacks $name of size $size, which its manifest lists. Nothing was removed"
done < <(grep -v '^#' <<<"$manifest")
ping_timeout=0
! mattermost_answers || fail "the bundled Mattermost answers at $ping_url; it should stay stopped after the move. Nothing was removed"
log "the move ($moved) is complete and backup $backup of the standalone Mattermost is newer and complete; removing the bundled data"
pg_sql postgres -v name="$mm_db" <<<'DROP DATABASE IF EXISTS :"name";'
rm -rf "${mm_home:?}/data" "$mm_home/plugins" "$mm_home/client-plugins" "$mm_home/config.json"
printf 'move %s, backup %s, removed %s\n' "$moved" "$backup" "$(date -u +%Y%m%dT%H%M%SZ)" >"$removed_record"
log "removed database $mm_db and ${mm_home}/{data,plugins,client-plugins,config.json}"
