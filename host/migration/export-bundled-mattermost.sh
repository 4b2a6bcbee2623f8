#!/usr/bin/env bash
# First half of moving the bundled Mattermost (GitLab Omnibus 18.11) to the standalone host; runs on
# the host that runs it now. In order:
#   1. pre-flight, changing nothing: Mattermost answers, the version is the expected one, the work
#      directory has room for the dump and the folders;
#   2. a full backup with the backup tool (mattermost-backup), before anything stops;
#   3. stops Mattermost, then packs: the database (Omnibus's own pg_dump, through its socket, as
#      gitlab-psql), per-table row counts and checksums, the data, plugins and client-plugins folders
#      with a sha256 per file, the runit environment directory (every MM_* setting the package passes)
#      with the at-rest key from gitlab-secrets.json when the directory lacks it, and config.json;
#   4. uploads them to the bucket (migration-common.sh), the manifest last, and announces the run;
#   5. waits for the standalone host's verdict. `verified`: Mattermost stays stopped here (the cut-over
#      follows) and the run is recorded as completed. Anything else ends the run as a failure.
# Whatever ends it before a `verified` verdict (an error, a signal, a failed or missing verdict), it
# starts the bundled Mattermost again on its unchanged data, marks the run abandoned and says FAILED.
# A run killed outright (SIGKILL) leaves a record; the next run starts Mattermost again first. Once a
# run has completed, later runs change nothing. Nothing here deletes the bundled data.
# Usage: export-bundled-mattermost.sh [EXPECTED_MATTERMOST_VERSION]
# Settings (environment, then the backup settings file): BACKUP_REMOTE, BACKUP_STACK, rclone's
# RCLONE_CONFIG_*; PG_BIN, PG_HOST, PG_PORT, PG_USER, PG_RUN_AS, MM_DB, MM_HOME, MM_ENV_DIR,
# GITLAB_ETC_DIR, MM_STOP_COMMAND, MM_START_COMMAND, MM_BACKUP_COMMAND, MM_PING_URL and the
# MIGRATION_* ones point it elsewhere (tests).
set -Eeuo pipefail
log() { printf 'export-bundled-mattermost: %s\n' "$*"; }
# shellcheck source-path=SCRIPTDIR source=../lib/step-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/step-common.sh"
# shellcheck source-path=SCRIPTDIR source=migration-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/migration-common.sh"

expected_version=${1:-}
pg_bin=${PG_BIN:-/opt/gitlab/embedded/bin}
pg_run_as=${PG_RUN_AS-gitlab-psql}
export PGHOST=${PG_HOST:-/var/opt/gitlab/postgresql} PGPORT=${PG_PORT:-5432} PGUSER=${PG_USER:-gitlab-psql}
mm_db=${MM_DB:-mattermost_production}
mm_home=${MM_HOME:-/var/opt/gitlab/mattermost}
mm_env_dir=${MM_ENV_DIR:-/opt/gitlab/etc/mattermost/env}
gitlab_etc=${GITLAB_ETC_DIR:-/etc/gitlab}
stop_command=${MM_STOP_COMMAND:-/opt/gitlab/bin/gitlab-ctl stop mattermost}
start_command=${MM_START_COMMAND:-/opt/gitlab/bin/gitlab-ctl start mattermost}
backup_command=${MM_BACKUP_COMMAND:-/usr/local/sbin/mattermost-backup}
# How long Mattermost may stay stopped before the standalone host takes the run.
pickup_seconds=${MIGRATION_PICKUP_SECONDS:-600}
# The folders that move, below $mm_home.
folders=(data plugins client-plugins)
# Written before Mattermost is stopped, removed once it runs again or the move is complete.
stopped_record="$state_dir/mattermost-migration.stopped"
at_rest_variable=MM_SQLSETTINGS_ATRESTENCRYPTKEY

started_at=$(now_ms)
cd /
umask 077
install -d -m 0700 "$state_dir"
exec 8>>"$state_dir/mattermost-migration.lock"
flock -n 8 || fail "another migration run holds $state_dir/mattermost-migration.lock"

work=""
run=""
remove_work() { [ -z "$work" ] || rm -rf "$work"; }
cleanup_steps+=(remove_work)

start_bundled_again() {
    log "starting the bundled Mattermost again on its unchanged data" >&2
    if bash -c "$start_command" && mattermost_answers; then
        rm -f "$stopped_record"
        log "the bundled Mattermost answers again at $ping_url" >&2
    else
        log "the bundled Mattermost does not answer after \`$start_command\`; see /var/log/gitlab/mattermost/current" >&2
    fi
}
# Tells the standalone host that this run, or any export before one was announced, will not come.
abandon_run() {
    local why="${failure:-ended by SIG${ended_by:-?}}"
    if [ -n "$run" ]; then
        write_object "$run/abandoned.txt" "abandoned: $why" || log "could not mark $migration_folder/$run abandoned" >&2
    fi
    write_object export-failed.txt "$(now_ms) $why (log: the output of this step on the bundled host)" ||
        log "could not record the failure in $migration_folder/export-failed.txt" >&2
}

rollback_steps+=(abandon_run)

completed=$(read_object completed.txt || true)
if [ -n "$completed" ]; then
    log "Mattermost already moved to the standalone host (run $completed); nothing to do"
    exit 0
fi
if [ -e "$stopped_record" ]; then
    log "an earlier run stopped Mattermost ($(cat "$stopped_record")) and did not finish; starting it again first"
    bash -c "$start_command"
    rm -f "$stopped_record"
fi

# --- 1. Pre-flight -------------------------------------------------------------------------------
log "pre-flight: checking that the bundled Mattermost answers at $ping_url"
mattermost_answers || fail "the bundled Mattermost does not answer at $ping_url; the move starts only from a serving Mattermost (sudo gitlab-ctl status mattermost)"
[ -d "$mm_env_dir" ] || fail "$mm_env_dir, the bundled Mattermost's settings, does not exist"
[ -f "$mm_home/config.json" ] || fail "$mm_home/config.json does not exist"
version=$(pg_sql "$mm_db" -c "SELECT value FROM systems WHERE name = 'Version'") ||
    fail "cannot read Mattermost's version from database $mm_db"
if [ -n "$expected_version" ] && [ "$version" != "$expected_version" ]; then
    fail "the bundled Mattermost is $version, but the standalone host is to receive $expected_version; the move needs the same version (gitlab-mattermost:mattermost.version)"
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/mattermost-migration.XXXXXXXX")
database_bytes=$(pg_sql postgres -v name="$mm_db" <<<"SELECT pg_database_size(:'name');")
folder_bytes=$(cd "$mm_home" && for folder in "${folders[@]}"; do [ ! -d "$folder" ] || du -sb "$folder"; done | awk '{ s += $1 } END { print s + 0 }')
needed=$((database_bytes + folder_bytes))
available=$(free_bytes "$work")
[ "$available" -ge "$needed" ] ||
    fail "the work directory $work has $available bytes free, the dump and the folders need up to $needed; free space or point TMPDIR elsewhere"
log "pre-flight passed: Mattermost $version, database $database_bytes bytes, folders $folder_bytes bytes, $available bytes free"

# An import that failed after this run began (epoch milliseconds first) will take no run.
import_failed() {
    local failed
    failed=$(read_object import-failed.txt || true)
    [ -n "$failed" ] && [ "${failed%% *}" -ge "$started_at" ] || return 1
    printf '%s\n' "${failed#* }"
}
if failed=$(import_failed); then
    fail "the standalone host cannot take the move: $failed; nothing was stopped"
fi

# --- 2. Backup -----------------------------------------------------------------------------------
log "backing up with $backup_command before anything stops"
bash -c "$backup_command" || fail "the backup before the move failed (its output is above); nothing was stopped"

# --- 3. Stop and pack ----------------------------------------------------------------------------
run=$(date -u +%Y%m%dT%H%M%SZ)
printf 'run %s, pid %s\n' "$run" "$$" >"$stopped_record"
# abandon_run (above) runs first: the import sees the run given up before Mattermost serves here again.
rollback_steps+=(start_bundled_again)
if failed=$(import_failed); then
    fail "the standalone host cannot take the move: $failed; nothing was stopped"
fi
log "stopping the bundled Mattermost"
bash -c "$stop_command"
mkdir "$work/upload" "$work/settings"
log "dumping database $mm_db with $pg_bin/pg_dump"
# Plain SQL without owners or privileges loads into any PostgreSQL as any role; compressed by zstd.
as_pg "$pg_bin/pg_dump" --format=plain --no-owner --no-privileges --no-password --dbname="$mm_db" |
    zstd --quiet --no-progress -T0 -6 >"$work/upload/database.sql.zst" ||
    fail "dumping $mm_db with $pg_bin/pg_dump failed (its error is above)"
table_fingerprints "$mm_db" >"$work/upload/tables.txt"
log "$(wc -l <"$work/upload/tables.txt") tables counted"
for folder in "${folders[@]}"; do
    [ -d "$mm_home/$folder" ] || install -d "$mm_home/$folder"
    tar --create --file="$work/upload/$folder.tar" --directory="$mm_home" "$folder"
done
(cd "$mm_home" && find "${folders[@]}" -type f -print0 | sort -z | xargs -0 -r sha256sum) >"$work/upload/files.sha256"
log "packed ${folders[*]}: $(wc -l <"$work/upload/files.sha256") files"
cp -a "$mm_env_dir" "$work/settings/env"
if [ ! -s "$work/settings/env/$at_rest_variable" ]; then
    # The package puts the key from gitlab-secrets.json into the environment; carry it over either way.
    key=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["mattermost"]["sql_at_rest_encrypt_key"])' "$gitlab_etc/gitlab-secrets.json") ||
        fail "$mm_env_dir has no $at_rest_variable and $gitlab_etc/gitlab-secrets.json has no mattermost.sql_at_rest_encrypt_key"
    printf '%s\n' "$key" >"$work/settings/env/$at_rest_variable"
fi
cp "$mm_home/config.json" "$work/settings/config.json"
tar --create --file="$work/upload/settings.tar" --directory="$work/settings" env config.json
{
    printf '# mattermost migration %s of stack %s\n' "$run" "$BACKUP_STACK"
    printf 'version %s\n' "$version"
    for name in database.sql.zst tables.txt files.sha256 settings.tar "${folders[@]/%/.tar}"; do
        printf 'object %s %s %s\n' "$(sha256sum <"$work/upload/$name" | cut -d' ' -f1)" "$(stat -c %s "$work/upload/$name")" "$name"
    done
} >"$work/manifest.txt"

# --- 4. Upload -----------------------------------------------------------------------------------
log "uploading to $migration_folder/$run/"
rclone copy "$work/upload" "$migration_folder/$run" </dev/null
rclone copyto "$work/manifest.txt" "$migration_folder/$run/manifest.txt" </dev/null
write_object ready.txt "$run"

# --- 5. The verdict ------------------------------------------------------------------------------
log "waiting up to ${await_seconds}s for the standalone host to load and verify run $run"
progress_start "the standalone host's verdict on run $run" "$await_seconds"
waiting_since=$(now_ms)
until verdict=$(read_object "$run/verdict.txt"); do
    if failed=$(import_failed); then fail "the standalone host gave up before taking run $run: $failed"; fi
    if reached "$waiting_since" "$pickup_seconds" && ! read_object "$run/taken.txt" >/dev/null; then
        fail "the standalone host did not take run $run within ${pickup_seconds}s (is its import step running?)"
    fi
    reached "$waiting_since" "$await_seconds" && fail "no verdict on run $run from the standalone host within ${await_seconds}s"
    sleep "$poll_seconds"
done
progress_stop
[ "$verdict" = verified ] || fail "the standalone host did not take run $run: $verdict"
write_object completed.txt "$run"
rm -f "$stopped_record"
log "moved: the standalone host verified run $run. The bundled Mattermost stays stopped; its database $mm_db and $mm_home stay as they are until gitlab-mattermost:mattermost.removeBundledData is set"
