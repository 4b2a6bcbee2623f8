#!/usr/bin/env bash
# Restores a Mattermost backup made by mattermost-backup (installed as /usr/local/sbin/mattermost-restore).
# Usage: mattermost-restore <YYYYmmddTHHMMSSZ|latest>
# `latest` is the newest complete backup that verifies, stamped at or before now: a backup stamped
# in the future is skipped, and one that does not verify gives way to the next older one (each skip
# is logged).
#
#   1. checks the manifest against the bucket, then fetches the dump, checking its sha256 as it
#      streams (restore_beside);
#   2. while Mattermost keeps serving, restores the dump into a NEW database <db>_restore_<ts>
#      (restore_database: parallel pg_restore streams, each stopping at the first error), while the
#      other files download, each checked by its sha256 as it is extracted beside the live one, owned
#      by $MM_OWNER already (so a failed chown cannot leave a half-swapped host), and the dump's data
#      is read back; then checks that every index, constraint and trigger the dump lists is in the
#      new database. A backup that fails a check is discarded whole (the new database dropped, the
#      staged files removed) before anything live changes;
#   3. stops Mattermost ($MM_STOP_COMMAND);
#   4. swaps everything in by renaming: the database in one transaction (the old one becomes
#      <db>_before_restore_<ts>), then each directory and config.json (the old one becomes
#      <path>.before-restore-<ts>; a directory that is a mount point keeps it inside, as
#      <dir>/.before-restore-<ts>); the old ones are kept until an administrator removes them;
#   5. starts Mattermost ($MM_START_COMMAND) and 6. waits for $MM_PING_URL to answer "status":"OK";
#   7. counts the posts of the previous database newer than the backup, which the restored one lacks,
#      and prints how to copy them over.
# Between 3 and 5 there are only renames: that is all the time Mattermost is down for the restore.
# <ts> is the time of the restore (UTC), so restoring the same backup twice never collides. A backup
# made before the plugin directories were backed up restores without them: the live ones stay.
#
# Any failure, whatever ends the run (an error, SIGHUP from a dropped connection, SIGTERM, SIGINT,
# SIGPIPE), rolls back. Before the stop: the running pg_restore and downloads are stopped, the partial
# database dropped and the staged files removed; Mattermost kept serving throughout. After it: what was
# swapped in is put aside as *failed-restore-<ts>, the previous database and files are put back, and
# Mattermost is started again on them. Only if that rollback
# itself fails does it print the commands that finish it. What a killed run (SIGKILL, a crash) left
# behind is removed by the next run, which says so.
#
# The host's secrets from the backup (MM_ETC_FILES: on Omnibus gitlab-secrets.json and gitlab.rb, on a
# standalone host mattermost.env) are NOT put in place: they are extracted to
# <MM_ETC_DIR>/mattermost-restore-<ts>/ for an administrator to compare. On a single host
# gitlab-secrets.json holds all of GitLab's own secrets too, and the deployment writes gitlab.rb and
# mattermost.env, so overwriting them blindly could break GitLab or undo configuration made since.
#
# Settings as in mattermost-backup (same env file, load_mattermost_settings in backup-common.sh), plus
# those listed below.
set -euo pipefail

tool=mattermost-restore
# Shared by the backup tools: log, fail, and reading the settings file. Installed beside them.
# shellcheck source-path=SCRIPTDIR source=backup-common.sh
. "${BACKUP_COMMON:-/usr/local/lib/gitlab-mattermost/backup-common.sh}"

[ "$#" -eq 1 ] || fail "usage: mattermost-restore <YYYYmmddTHHMMSSZ|latest>"
requested=$1
[[ "$requested" == latest || "$requested" =~ ^[0-9]{8}T[0-9]{6}Z$ ]] ||
    fail "usage: mattermost-restore <YYYYmmddTHHMMSSZ|latest>; got: $requested"

: "${BACKUP_REMOTE:?set BACKUP_REMOTE to the rclone remote and bucket, e.g. backup:my-bucket}"
: "${BACKUP_STACK:?set BACKUP_STACK to the stack name}"
load_mattermost_settings
maintenance_db=${PG_MAINTENANCE_DB:-postgres}
mm_owner=${MM_OWNER-mattermost:mattermost}
ping_url=${MM_PING_URL:-http://127.0.0.1:8065/api/v4/system/ping}
ping_timeout=${MM_PING_TIMEOUT:-300}
ping_interval=${MM_PING_INTERVAL:-5}
state_dir=${BACKUP_STATE_DIR:-/var/lib/gitlab-mattermost}
jobs=${RESTORE_JOBS:-$(nproc)}
# The directories a backup holds, each as one archive (same order in both lists). The data directory
# is in every backup.
tree_archives=(mattermost-data.tar.gz mattermost-plugins.tar.gz mattermost-client-plugins.tar.gz)
tree_dirs=("$mm_data_dir" "$mm_plugin_dir" "$mm_client_plugin_dir")
# Omnibus runs PostgreSQL with maintenance_work_mem=16MB, so index builds spill to disk, and a GIN
# build (the full-text index, the restore's longest step) flushes its entries many times over. A
# restore's own sessions get more, as PostgreSQL advises for bulk loads: together an eighth of the
# host's memory (each of the parallel jobs its share, at least 64MB), while GitLab and Mattermost
# keep serving.
memory_mib=$(($(awk '$1 == "MemTotal:" { print $2 }' /proc/meminfo) / 1024))
maintenance_work_mem=${RESTORE_MAINTENANCE_WORK_MEM:-$((memory_mib / 8 / jobs > 64 ? memory_mib / 8 / jobs : 64))MB}
session_wait=${RESTORE_SESSION_WAIT:-30}
export RCLONE_CONFIG=/dev/null


# psql reading SQL from stdin, so that database names reach it as :"variables" it quotes itself.
pg_sql() {
    as_pg "$pg_bin/psql" -X -q -A -t -v ON_ERROR_STOP=1 --no-password -d "$maintenance_db" "$@"
}

database_exists() {
    [ -n "$(pg_sql -v name="$1" <<<"SELECT 1 FROM pg_database WHERE datname = :'name';")" ]
}

# A database can be renamed only once no session is on it; a client that just exited (Mattermost,
# pg_restore's workers) may leave its server process behind for a moment.
wait_for_no_sessions() {
    local name=$1 deadline=$((SECONDS + session_wait)) sessions
    while sessions=$(pg_sql -v name="$name" <<<"SELECT string_agg(format('pid %s (%s, %s)', pid, usename, coalesce(application_name, '')), '; ') FROM pg_stat_activity WHERE datname = :'name';") &&
        [ -n "$sessions" ]; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            log "sessions still connected to $name after ${session_wait}s: $sessions" >&2
            return 1
        fi
        sleep 0.05
    done
}

# Runs the renames (SQL on stdin, psql options after $1) until they succeed; while PostgreSQL refuses
# them because database $1 still has sessions, waits for those to end (wait_for_no_sessions), a few
# times at most (a client that keeps reconnecting is not waited out).
rename_databases() {
    local busy=$1 sql output attempt=1
    shift
    IFS= read -r -d '' sql || true
    until output=$(pg_sql "$@" <<<"$sql" 2>&1); do
        if [[ "$output" != *"is being accessed by other users"* ]] || [ "$attempt" -ge 5 ]; then
            printf '%s\n' "$output" >&2
            return 1
        fi
        wait_for_no_sessions "$busy" || return 1
        attempt=$((attempt + 1))
    done
}

# How an administrator runs SQL as the database superuser on this host (any database name).
admin_sql() { printf "%s -d postgres -c '%s'" "$pg_admin_psql" "$1"; }

# --- how the restored database is built ---------------------------------------------------------------
# The restore's critical path is Mattermost's full-text index on posts: PostgreSQL before 18 builds a
# GIN index on one core, and pg_restore's own schedule starts it only after other index builds. So
# the dump's table of contents ($work/toc.txt) is split into lists (pg_restore -L), run as streams:
#   1. pre-data (tables, types, functions), alone;
#   2. posts' data, and beside it the other tables' data;
#   3. as soon as posts is loaded: posts' constraints, then its full-text index, one session;
#      as soon as all data is loaded: every other index, constraint and trigger (--jobs, less one);
#   4. foreign keys, last (they need the keys they reference).
# Each stream stops at its first error; check_restored_objects then confirms that every index,
# constraint and trigger the table of contents lists exists.
fulltext_table=posts
fulltext_index=idx_posts_message_txt
background_pids=() # what stop_background stops: the pg_restore streams, the files being staged

# Writes to $work/<name>.list the lines of the table of contents that match the awk condition $2.
toc_list() {
    awk "!/^;/ && ($2)" "$work/toc.txt" >"$work/$1.list"
}

# pg_restore of the dump into the new database, with the options every stream shares.
pg_restore_into_new_db() {
    PGOPTIONS="-c maintenance_work_mem=$maintenance_work_mem" as_pg "$pg_bin/pg_restore" \
        --exit-on-error --no-password --dbname="$new_db" "$@" "$dump_file"
}

# Starts pg_restore of list $1 (more options after it) in the background; its pid is remembered, so
# that a failure or a signal stops it (stop_background). A list with no entries restores nothing. The
# streams are waited for with `wait`, which returns at once when a signal arrives: a signal during
# the build is handled then, not once pg_restore is done.
start_stream() {
    local list=$1
    shift
    if [ -s "$work/$list.list" ]; then
        pg_restore_into_new_db --use-list="$work/$list.list" "$@" &
    else
        true &
    fi
    background_pids+=("$!")
    stream_pid=$!
}

# Returns 1 at the first stream that fails (its status is checked, so every step returns its own).
restore_database() {
    local other_jobs=$((jobs > 1 ? jobs - 1 : 1)) posts_data other_data fulltext rest
    toc_list everything 1 || return 1
    toc_list fulltext-data "\$4 == \"TABLE\" && \$5 == \"DATA\" && \$7 == \"$fulltext_table\"" || return 1
    toc_list other-data "!(\$4 == \"TABLE\" && \$5 == \"DATA\" && \$7 == \"$fulltext_table\")" || return 1
    # posts' own constraints (its primary key) before its full-text index: adding a constraint locks
    # the table against the index build, so the two must not wait on each other in two streams.
    toc_list fulltext-post-data "(\$4 == \"CONSTRAINT\" && \$6 == \"$fulltext_table\") || (\$4 == \"INDEX\" && \$6 == \"$fulltext_index\")" || return 1
    awk -v first="$work/fulltext-post-data.list" 'FILENAME == first { skip[$0] = 1; next }
        !/^;/ && !skip[$0] && !($4 == "FK" && $5 == "CONSTRAINT")' "$work/fulltext-post-data.list" "$work/toc.txt" >"$work/other-post-data.list" || return 1
    toc_list foreign-keys "\$4 == \"FK\" && \$5 == \"CONSTRAINT\"" || return 1
    if [ -n "$pg_run_as" ]; then chmod 0644 "$work"/*.list || return 1; fi

    start_stream everything --section=pre-data
    wait "$stream_pid" || return 1
    start_stream fulltext-data --section=data
    posts_data=$stream_pid
    start_stream other-data --section=data --jobs="$other_jobs"
    other_data=$stream_pid
    wait "$posts_data" || return 1
    log "posts loaded; building its full-text index beside the rest"
    start_stream fulltext-post-data --section=post-data
    fulltext=$stream_pid
    wait "$other_data" || return 1
    start_stream other-post-data --section=post-data --jobs="$other_jobs"
    rest=$stream_pid
    wait "$rest" || return 1
    wait "$fulltext" || return 1
    start_stream foreign-keys --section=post-data --jobs="$jobs"
    wait "$stream_pid" || return 1
}

# Stops what is left of the background work (and the processes it started) after a failure, and
# waits until it is gone, so that what it was writing can be removed.
stop_background() {
    local pid all=() below deadline=$((SECONDS + 30))
    for pid in "${background_pids[@]}"; do
        mapfile -t below < <(descendants "$pid")
        all+=("$pid" "${below[@]}")
    done
    background_pids=()
    [ "${#all[@]}" -gt 0 ] || return 0
    kill -TERM "${all[@]}" 2>/dev/null || true
    wait "${all[@]}" 2>/dev/null || true
    for pid in "${all[@]}"; do
        while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.05; done
    done
}

descendants() {
    local child
    for child in $(pgrep -P "$1" || true); do
        printf '%s\n' "$child"
        descendants "$child"
    done
}

# Every index, constraint and trigger the dump's table of contents lists must exist in the new
# database, by name: a count of what is missing, which must be zero.
check_restored_objects() {
    local expected found missing
    expected=$(awk '!/^;/ && (($4 == "INDEX" && $5 != "ATTACH") || $4 == "CONSTRAINT" || $4 == "TRIGGER" || ($4 == "FK" && $5 == "CONSTRAINT"))' "$work/toc.txt" | grep -c . || true)
    read -r found missing < <({
        printf '%s\n' 'CREATE TEMP TABLE expected (kind text, nspname text, relname text, objname text);' 'COPY expected FROM STDIN;'
        awk -v OFS='\t' '!/^;/ {
            if ($4 == "INDEX" && $5 != "ATTACH") print "index", $5, "", $6
            else if ($4 == "CONSTRAINT") print "constraint", $5, $6, $7
            else if ($4 == "TRIGGER") print "trigger", $5, $6, $7
            else if ($4 == "FK" && $5 == "CONSTRAINT") print "constraint", $6, $7, $8
        }' "$work/toc.txt" | sed 's/\\/\\\\/g'
        printf '%s\n' '\.'
        cat <<'SQL'
SELECT count(*) FILTER (WHERE found), coalesce(string_agg(kind || ' ' || objname, ',') FILTER (WHERE NOT found), '-')
FROM (SELECT kind, objname, CASE kind
    WHEN 'index' THEN EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = e.nspname AND c.relname = e.objname AND c.relkind IN ('i', 'I'))
    WHEN 'trigger' THEN EXISTS (SELECT 1 FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = e.nspname AND c.relname = e.relname AND t.tgname = e.objname)
    ELSE EXISTS (SELECT 1 FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = e.nspname AND c.relname = e.relname AND k.conname = e.objname)
    END AS found FROM expected e) checked;
SQL
    } | as_pg "$pg_bin/psql" -X -q -A -t -F ' ' -v ON_ERROR_STOP=1 --no-password -d "$new_db")
    [ "$found" = "$expected" ] ||
        fail "the restored database $new_db holds $found of the $expected indexes, constraints and triggers the dump lists; missing: $missing"
    log "restored database checked: all $expected indexes, constraints and triggers the dump lists are there"
}
begin_locked_run mattermost

prefix="$BACKUP_REMOTE/$BACKUP_STACK/mattermost"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
new_db="${mm_db}_restore_$stamp"
before_db="${mm_db}_before_restore_$stamp"
failed_db="${mm_db}_failed_restore_$stamp"
side_etc="$etc_dir/mattermost-restore-$stamp"
# Extracted here first, renamed to $side_etc once the restore succeeded.
side_etc_partial="$etc_dir/.mattermost-restore-$stamp.partial"

# A directory that is a mount point (a separate data volume) cannot be renamed (EBUSY): its
# contents are swapped inside it instead, and its side copies live in it (the same file system,
# so every move is still a rename). The backup tool leaves those side copies out.
declare -A in_place=()
for target in "${tree_dirs[@]}"; do
    if [ -d "$target" ] && mountpoint -q "$target"; then
        in_place[$target]=1
        log "$target is a mount point: its contents are swapped inside it"
    fi
done
# Where the restored copy of a live path is staged, where the live one is kept once the restored
# one is swapped in, and where a restored one goes if the restore is rolled back.
side_path() {
    if [ -n "${in_place[$1]+set}" ]; then
        printf '%s/.%s-%s' "$1" "$2" "$stamp"
    elif [ "$2" = restore ]; then
        printf '%s/.%s.restore-%s' "$(dirname "$1")" "$(basename "$1")" "$stamp"
    else
        printf '%s.%s-%s' "$1" "$2" "$stamp"
    fi
}
staged_path() { side_path "$1" restore; }
before_path() { side_path "$1" before-restore; }
failed_path() { side_path "$1" failed-restore; }

# Moves the entries of directory $1 into directory $2, except side copies.
move_entries() {
    find "$1" -mindepth 1 -maxdepth 1 ! -name '.restore-*' ! -name '.before-restore-*' ! -name '.failed-restore-*' -exec mv -t "$2" -- {} +
}

# --- leftovers of earlier runs that did not finish (killed, or the host went down) ----------------
# This run holds the lock, so nothing else is using them.
reclaim_leftovers() {
    local name names path target
    names=$(pg_sql -v prefix="${mm_db}_restore_" <<<"SELECT datname FROM pg_database WHERE starts_with(datname, :'prefix');")
    for name in $names; do
        pg_sql -v name="$name" <<<'DROP DATABASE IF EXISTS :"name" WITH (FORCE);'
        log "dropped $name, the incomplete database of an earlier restore that did not finish"
    done
    shopt -s nullglob
    for target in "${tree_dirs[@]}" "$mm_config"; do
        for path in "$(dirname "$target")/.$(basename "$target").restore-"* "$target/.restore-"*; do
            rm -rf "$path"
            log "removed $path, staged by an earlier restore that did not finish"
        done
    done
    for path in "$etc_dir/.mattermost-restore-"*.partial; do
        rm -rf "$path"
        log "removed $path, extracted by an earlier restore that did not finish"
    done
    shopt -u nullglob
}
reclaim_leftovers

# Posts.CreateAt is milliseconds since 1970 (UTC). Posts the previous database holds that are newer
# than the backup's timestamp are not in the restored one (those of the backup's first seconds, before
# its dump began, may be in both). Counted, never changed; a count that fails does not fail the restore.
report_newer_posts() {
    local since_ms newer
    since_ms=$(($(date -u -d "${timestamp:0:4}-${timestamp:4:2}-${timestamp:6:2} ${timestamp:9:2}:${timestamp:11:2}:${timestamp:13:2}" +%s) * 1000))
    if newer=$(as_pg "$pg_bin/psql" -X -q -A -t -v ON_ERROR_STOP=1 --no-password -d "$before_db" -v since="$since_ms" \
        <<<'SELECT count(*) FROM public.posts WHERE createat > :since;'); then
        log "the previous database $before_db holds $newer posts newer than the backup ($timestamp, CreateAt > $since_ms); the restored one does not."
        [ "$newer" -eq 0 ] || {
            log "    to copy them into the restored database (posts only; the README's \"Posts written after the backup\" says what else to check):"
            log "    $pg_admin_psql -d $before_db -c 'COPY (SELECT * FROM posts WHERE createat > $since_ms) TO STDOUT' | $pg_admin_psql -d $mm_db -c 'CREATE TEMP TABLE newer (LIKE posts)' -c 'COPY newer FROM STDIN' -c 'INSERT INTO posts SELECT * FROM newer ON CONFLICT (id) DO NOTHING'"
        }
    else
        log "could not count the posts of $before_db newer than the backup ($timestamp)" >&2
    fi
}

# --- how a failed run ends ---------------------------------------------------------------------------
# What this run has done so far. Each step that changes something live registers its undo FIRST
# (a signal is handled between commands), so every undo checks what is really there.
mattermost_stopped=false
swap_targets=() # the live paths this run replaces, once it knows which the backup holds
staged=false
new_db_created=false
undo_steps=() # commands for eval, undone in reverse order
undo_texts=() # the same, as an administrator would type them
undone=()     # what the rollback really put back

undo_database() {
    if database_exists "$before_db"; then
        wait_for_no_sessions "$mm_db" || return 1
        pg_sql -v live="$mm_db" -v before="$before_db" -v failed="$failed_db" <<'SQL' || return 1
BEGIN;
ALTER DATABASE :"live" RENAME TO :"failed";
ALTER DATABASE :"before" RENAME TO :"live";
COMMIT;
SQL
        undone+=("database $mm_db")
    elif ! database_exists "$new_db" && database_exists "$mm_db" && [ "$1" = no-previous ]; then
        wait_for_no_sessions "$mm_db" || return 1
        pg_sql -v live="$mm_db" -v failed="$failed_db" <<<'ALTER DATABASE :"live" RENAME TO :"failed";' || return 1
        undone+=("database $mm_db (there was none)")
    fi
}

undo_path() {
    local target=$1 before failed
    before=$(before_path "$target") failed=$(failed_path "$target")
    if [ -n "${in_place[$target]+set}" ]; then
        [ -d "$before" ] || return 0
        mkdir -p "$failed" && move_entries "$target" "$failed" && move_entries "$before" "$target" && rmdir "$before" || return 1
    elif [ -e "$before" ]; then
        if [ -e "$target" ]; then mv -T "$target" "$failed" || return 1; fi
        mv -T "$before" "$target" || return 1
    elif [ -e "$target" ] && [ ! -e "$(staged_path "$target")" ]; then
        # There was none before: the one in place is the restored one.
        mv -T "$target" "$failed" || return 1
    else
        return 0
    fi
    undone+=("$target")
}

undo_start() {
    bash -c "$stop_command"
}

# Removes what was built beside the live data for this backup: stops the background work, drops the
# new database, removes the staged files and the extracted secrets.
discard_beside() {
    local target
    stop_background
    rm -rf "$side_etc_partial"
    if "$staged"; then
        for target in "${swap_targets[@]}"; do
            rm -rf "$(staged_path "$target")"
        done
        staged=false
    fi
    if "$new_db_created" && database_exists "$new_db"; then
        pg_sql -v name="$new_db" <<<'DROP DATABASE IF EXISTS :"name" WITH (FORCE);' ||
            log "could not drop the incomplete database $new_db; drop it with: $(admin_sql "DROP DATABASE \"$new_db\"")" >&2
    fi
    new_db_created=false
}

restore_failed() {
    local i j
    stop_background
    rm -rf "$side_etc_partial"
    for ((i = ${#undo_steps[@]} - 1; i >= 0; i--)); do
        if ! eval "${undo_steps[i]}"; then
            {
                log "restore FAILED, and putting the previous database and files back failed too."
                log "to roll back, run in this order:"
                for ((j = i; j >= 0; j--)); do
                    printf '    %s\n' "${undo_texts[j]}"
                done
                printf '    %s\n' "$start_command"
            } >&2
            return 0
        fi
    done
    # Whatever is still staged was never swapped in (swapping moves it away), and the new database
    # was not either (swapping renames it).
    discard_beside
    if "$mattermost_stopped"; then
        log "starting Mattermost again on its previous data" >&2
        bash -c "$start_command" || log "could not start Mattermost; run: $start_command" >&2
    fi
    if [ "${#undone[@]}" -eq 0 ]; then
        log "restore FAILED before anything live was changed: database $mm_db and ${swap_targets[*]:-the files} are as they were" >&2
    else
        log "restore FAILED after the swap began; rolled back: ${undone[*]} are the previous ones again." >&2
        log "the restored ones are kept as $failed_db and *failed-restore-$stamp for inspection" >&2
    fi
}
failure_steps+=(restore_failed)

# --- 1. the backup: its dump first, then the database built from it beside the live one -------------
# The critical path is the dump: the database is built from it while the other files download, are
# checked and staged (check_and_stage_files, in the background). Nothing live changes before every
# check has passed; a backup that fails one is discarded whole (its database dropped, its files
# removed) before the next older one is tried or the run is refused.

# Streams file $1 of backup $source_dir from the bucket into the command after $2 (on its stdin),
# computing its sha256 on the way, so that no file is read twice. A failed download, a sha256 other
# than the manifest's, or the command failing ($2 says how, e.g. "does not decompress") sets
# rejection and returns 1. Called only where its status is checked.
fetch_checked() {
    local name=$1 failure=$2 actual
    shift 2
    { rclone cat "$source_dir/$name" </dev/null | tee /dev/fd/3 | "$@"; } 3> >(sha256sum >"$work/$name.sha256")
    local statuses=("${PIPESTATUS[@]}")
    wait "$!"
    actual=$(cut -d' ' -f1 "$work/$name.sha256")
    rm -f "$work/$name.sha256"
    if [ "${statuses[0]}" -eq 0 ] && [ "${statuses[1]}" -eq 0 ] && [ "$actual" != "${sha256_of[$name]}" ]; then
        rejection="$name has sha256 $actual, the manifest says ${sha256_of[$name]}"
    elif [ "${statuses[2]}" -ne 0 ]; then
        rejection="$name $failure"
    elif [ "${statuses[0]}" -ne 0 ] || [ "${statuses[1]}" -ne 0 ]; then
        rejection="could not download $source_dir/$name"
    else
        return 0
    fi
    return 1
}

write_to() { cat >"$1"; }

# Checks the manifest of backup $source_dir against the bucket's listing (every file it lists there,
# at its size) and fetches the dump (fetch_checked; zstd checks its own checksum of the content too)
# and its table of contents. Sets listed, sha256_of, dump_file, restored_archives and swap_targets;
# on a defect sets rejection and returns 1.
fetch_dump() {
    local sum size name i
    local -A size_in_bucket=()
    rejection=""
    rm -rf "$work/backup" "$work/mattermost.dump"
    mkdir "$work/backup"
    restored_archives=() swap_targets=() listed=() sha256_of=()
    while read -r size name; do
        [ -z "$name" ] || size_in_bucket[$name]=$size
    done < <(rclone lsf --files-only --format sp --separator ' ' "$source_dir/" </dev/null || true)
    if [ -z "${size_in_bucket[manifest.txt]+set}" ]; then
        rejection="$source_dir/manifest.txt is missing, so the backup is incomplete"
        return 1
    fi
    log "downloading $source_dir/: the manifest and the dump first"
    if ! rclone copyto "$source_dir/manifest.txt" "$work/backup/manifest.txt" </dev/null || [ ! -s "$work/backup/manifest.txt" ]; then
        rejection="could not download $source_dir/manifest.txt"
        return 1
    fi
    while read -r sum size name; do
        case "$sum" in '' | '#'*) continue ;; esac
        if [[ ! "$sum" =~ ^[0-9a-f]{64}$ || ! "$size" =~ ^[0-9]+$ || ! "$name" =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]]; then
            rejection="malformed manifest line: $sum $size $name"
            return 1
        fi
        if [ "$name" = manifest.txt ] || [ -n "${listed[$name]+set}" ]; then
            rejection="the manifest lists $name twice or itself"
            return 1
        fi
        listed[$name]=1 sha256_of[$name]=$sum
        if [ -z "${size_in_bucket[$name]+set}" ]; then
            rejection="$name is listed in the manifest but missing from the backup"
            return 1
        fi
        if [ "${size_in_bucket[$name]}" != "$size" ]; then
            rejection="$name has ${size_in_bucket[$name]} bytes, the manifest says $size"
            return 1
        fi
    done <"$work/backup/manifest.txt"
    for name in mattermost-data.tar.gz config.json "$etc_archive"; do
        if [ -z "${listed[$name]+set}" ]; then
            rejection="the manifest does not list $name"
            return 1
        fi
    done
    # Backups made since zstd compression are mattermost.dump.zst (an uncompressed custom-format
    # dump, compressed by zstd); older ones are mattermost.dump (custom format, compressed by
    # pg_dump with zlib). Either lands as one uncompressed file, where pg_restore --jobs can seek.
    if [ -n "${listed[mattermost.dump.zst]+set}" ]; then
        dump_file="$work/mattermost.dump"
        fetch_checked mattermost.dump.zst "does not decompress" zstd --quiet --decompress --no-progress -o "$dump_file" || return 1
    elif [ -n "${listed[mattermost.dump]+set}" ]; then
        dump_file="$work/backup/mattermost.dump"
        fetch_checked mattermost.dump "could not be written to $work" write_to "$dump_file" || return 1
    else
        rejection="the manifest lists no database dump (mattermost.dump.zst or mattermost.dump)"
        return 1
    fi
    if ! "$pg_bin/pg_restore" --list "$dump_file" >"$work/toc.txt"; then
        rejection="pg_restore cannot read the dump's table of contents"
        return 1
    fi
    if ! grep -q ' TABLE DATA ' "$work/toc.txt"; then
        rejection="the dump holds no table data"
        return 1
    fi
    for i in "${!tree_archives[@]}"; do
        if [ -n "${listed[${tree_archives[i]}]+set}" ]; then
            restored_archives+=("${tree_archives[i]}")
            swap_targets+=("${tree_dirs[i]}")
        fi
    done
    swap_targets+=("$mm_config")
}

# Runs in the background while the database is built: fetches every other file of the backup
# straight into its place beside the live one (fetch_checked: each archive extracted as it streams,
# config.json copied; owned by $MM_OWNER before anything is swapped in, so a failed chown cannot
# leave a half-swapped host), the host's secrets into $side_etc_partial, and reads all the dump's
# data back (a dump truncated inside its data). On a defect it writes why to $work/files.rejection
# and fails.
check_and_stage_files() {
    local i
    install -d -m 0700 "$side_etc_partial"
    fetch_checked "$etc_archive" "is not a readable archive" tar --extract --gzip --directory="$side_etc_partial" || files_rejected
    for i in "${!restored_archives[@]}"; do
        log "extracting ${restored_archives[i]} beside ${swap_targets[i]} as it downloads"
        mkdir -m 0700 "$(staged_path "${swap_targets[i]}")"
        fetch_checked "${restored_archives[i]}" "is not a readable archive" tar --extract --gzip --directory="$(staged_path "${swap_targets[i]}")" || files_rejected
    done
    fetch_checked config.json "could not be written beside $mm_config" write_to "$(staged_path "$mm_config")" || files_rejected
    chmod 0600 "$(staged_path "$mm_config")"
    if [ -n "$mm_owner" ]; then
        for target in "${swap_targets[@]}"; do
            chown -R "$mm_owner" "$(staged_path "$target")"
        done
    fi
    "$pg_bin/pg_restore" --file=/dev/null "$dump_file" || {
        rejection="the dump's data does not read back"
        files_rejected
    }
}

files_rejected() {
    printf '%s\n' "$rejection" >"$work/files.rejection"
    exit 1
}

# Builds the restored database of backup $1 under a new name while Mattermost keeps serving, with
# the backup's files checked and staged beside it. Mattermost only ever connects to $mm_db, so it
# never sees this database half-built. What it writes meanwhile lands in the database that becomes
# the previous copy: a restore returns to the backup's moment whatever was written since, and that
# copy keeps it. A defect of the backup sets rejection (what was built is discarded); any other
# failure fails the run. Not called where its status is checked, so that `set -e` holds inside.
restore_beside() {
    local target path build_failed=false
    source_dir="$prefix/$1"
    fetch_dump "$1" || return 0
    log "dump verified: sha256 and table of contents ($(grep -c ' TABLE DATA ' "$work/toc.txt") tables) of $source_dir/; the other files are fetched, checked and staged while the database is built"
    # Nothing of ours may already carry these names, and the live files must be where we expect them.
    if database_exists "$new_db" || database_exists "$before_db"; then
        fail "refusing: $new_db or $before_db already exists"
    fi
    for target in "${swap_targets[@]}"; do
        for path in "$(staged_path "$target")" "$(before_path "$target")"; do
            [ ! -e "$path" ] || fail "refusing: $path already exists"
        done
        [ -d "$(dirname "$target")" ] || fail "refusing: $(dirname "$target") does not exist"
    done
    [ ! -e "$side_etc" ] || fail "refusing: $side_etc already exists"

    staged=true
    rm -f "$work/files.rejection"
    check_and_stage_files &
    files_job=$!
    background_pids+=("$files_job")

    log "restoring into the new database $new_db with $jobs parallel jobs, maintenance_work_mem=$maintenance_work_mem, while Mattermost keeps serving"
    new_db_created=true
    pg_sql -v name="$new_db" -v owner="$mm_db_owner" <<<"CREATE DATABASE :\"name\" OWNER :\"owner\" TEMPLATE template0 ENCODING 'UTF8';"
    if [ -n "$pg_run_as" ]; then
        # pg_restore --jobs needs a file it can seek in, opened as the database superuser's account.
        chmod 0711 "$work" "$work/backup"
        chown "$pg_run_as" "$dump_file"
    fi
    # A build that fails on the dump's own data (a dump cut short inside it) is a defect of the
    # backup, as the read-back check beside it says: only once that check is done is it known which.
    restore_database || build_failed=true
    if ! wait "$files_job"; then
        # Without a rejection, staging itself failed (a full disk, a failed chown): not the backup's
        # defect, so no older backup is tried.
        [ -s "$work/files.rejection" ] || fail "staging the backup's files beside the live ones failed (see above)"
        rejection=$(cat "$work/files.rejection")
        discard_beside
        return 0
    fi
    if "$build_failed"; then
        fail "building the restored database $new_db failed (pg_restore's error above), though the backup verified"
    fi
    background_pids=()
    log "backup verified: sizes, sha256, table of contents, data and archives of $source_dir/"
    check_restored_objects
    wait_for_no_sessions "$new_db"
}

declare -A listed=() sha256_of=()
if [ "$requested" = latest ]; then
    # The newest complete backup that verifies, stamped at or before now: a folder stamped in the
    # future (a clock that was ahead) must not shadow every later backup.
    listing=$(rclone lsf --dirs-only "$prefix/")
    mapfile -t candidates < <(sed -n 's|/$||p' <<<"$listing" | grep -E '^[0-9]{8}T[0-9]{6}Z$' | sort -r)
    timestamp=""
    for candidate in "${candidates[@]}"; do
        if [[ "$candidate" > "$stamp" ]]; then
            log "skipping $candidate: it is stamped after now ($stamp), by a clock that was ahead"
            continue
        fi
        files=$(rclone lsf "$prefix/$candidate/" </dev/null)
        if ! grep -qx manifest.txt <<<"$files"; then
            log "skipping $candidate: it has no manifest (an incomplete backup)"
            continue
        fi
        restore_beside "$candidate"
        if [ -z "$rejection" ]; then
            timestamp=$candidate
            break
        fi
        log "skipping $candidate: it does not verify ($rejection); trying the next older backup"
    done
    [ -n "$timestamp" ] || fail "no complete backup that verifies under $prefix/; nothing was changed"
else
    timestamp=$requested
    restore_beside "$timestamp"
    [ -z "$rejection" ] || fail "refusing: $rejection; nothing was changed"
fi
for i in "${!tree_archives[@]}"; do
    [ -n "${listed[${tree_archives[i]}]+set}" ] ||
        log "the backup holds no ${tree_archives[i]}; ${tree_dirs[i]} stays as it is"
done
log "database restored into $new_db"

# --- 3. stop Mattermost: from here to its start, only renames ---------------------------------------
# Everything the swap needs is worked out first, so that Mattermost is down only for the renames.
if database_exists "$mm_db"; then live_db_exists=true; else live_db_exists=false; fi
declare -A staged_of=() before_of=() undo_text_of=()
for target in "${swap_targets[@]}"; do
    staged_of[$target]=$(staged_path "$target") before_of[$target]=$(before_path "$target")
    failed=$(failed_path "$target")
    if [ -n "${in_place[$target]+set}" ]; then
        undo_text_of[$target]="cd $target && mkdir -p $failed && find . -mindepth 1 -maxdepth 1 ! -name '.*restore-*' -exec mv -t $failed -- {} + && find ${before_of[$target]} -mindepth 1 -maxdepth 1 -exec mv -t . -- {} + && rmdir ${before_of[$target]}"
    elif [ -e "$target" ]; then
        undo_text_of[$target]="mv -T $target $failed && mv -T ${before_of[$target]} $target"
    else
        undo_text_of[$target]="mv -T $target $failed"
    fi
done
log "stopping Mattermost: $stop_command"
mattermost_stopped=true
bash -c "$stop_command"
swap_started=$EPOCHREALTIME

# --- 4. swap: database, data directory, config.json --------------------------------------------------
if "$live_db_exists"; then
    undo_steps+=("undo_database previous")
    undo_texts+=("$(admin_sql "ALTER DATABASE \"$mm_db\" RENAME TO \"$failed_db\"") -c 'ALTER DATABASE \"$before_db\" RENAME TO \"$mm_db\"'")
    # One transaction: either both renames happen or neither. PostgreSQL refuses to rename a database
    # that has sessions: a server process of the Mattermost that just stopped may still be ending.
    rename_databases "$mm_db" -v live="$mm_db" -v before="$before_db" -v new="$new_db" <<'SQL'
BEGIN;
ALTER DATABASE :"live" RENAME TO :"before";
ALTER DATABASE :"new" RENAME TO :"live";
COMMIT;
SQL
else
    undo_steps+=("undo_database no-previous")
    undo_texts+=("$(admin_sql "ALTER DATABASE \"$mm_db\" RENAME TO \"$failed_db\"")")
    rename_databases "$new_db" -v live="$mm_db" -v new="$new_db" <<<'ALTER DATABASE :"new" RENAME TO :"live";'
fi
log "database swapped in: $mm_db is the restored one"

for target in "${swap_targets[@]}"; do
    staged_copy=${staged_of[$target]} before=${before_of[$target]}
    undo_steps+=("undo_path ${target@Q}")
    undo_texts+=("${undo_text_of[$target]}")
    if [ -n "${in_place[$target]+set}" ]; then
        mkdir -m 0700 "$before"
        move_entries "$target" "$before"
        move_entries "$staged_copy" "$target"
        rmdir "$staged_copy"
    else
        if [ -e "$target" ]; then mv -T "$target" "$before"; fi
        mv -T "$staged_copy" "$target"
    fi
done
# $EPOCHREALTIME: seconds with 6 decimals, so its digits are microseconds.
swap_ms=$(((${EPOCHREALTIME//[!0-9]/} - ${swap_started//[!0-9]/} + 500) / 1000))
log "swapped in: ${swap_targets[*]}"

# --- 5. start Mattermost and 6. wait for its ping ------------------------------------------------------
log "swapped in ${swap_ms} ms after Mattermost stopped; starting Mattermost: $start_command"
undo_steps+=(undo_start)
undo_texts+=("$stop_command")
bash -c "$start_command"

deadline=$((SECONDS + ping_timeout))
answer=""
until answer=$(curl --silent --show-error --max-time 10 --fail "$ping_url" 2>&1) && [[ "$answer" == *'"status":"OK"'* ]]; do
    if [ "$SECONDS" -ge "$deadline" ]; then
        fail "Mattermost did not answer \"status\":\"OK\" at $ping_url within ${ping_timeout}s; last answer: $answer"
    fi
    sleep "$ping_interval"
done

mv -T "$side_etc_partial" "$side_etc"
log "restore of backup $timestamp complete; Mattermost answers at $ping_url"
if database_exists "$before_db"; then
    report_newer_posts
    log "the previous database is kept as $before_db; once satisfied, drop it with:"
    log "    $(admin_sql "DROP DATABASE \"$before_db\"")"
fi
for target in "${swap_targets[@]}"; do
    if [ -e "$(before_path "$target")" ]; then
        log "the previous $(basename "$target") is kept as $(before_path "$target"); remove it with: sudo rm -rf $(before_path "$target")"
    fi
done
etc_restored=()
for name in "${etc_files[@]}"; do
    [ ! -e "$side_etc/$name" ] || etc_restored+=("$name")
done
if [ "${#etc_restored[@]}" -eq 0 ]; then
    # A backup made on a replaced instance before its settings step (mattermost-backup.sh).
    log "the backup holds no copy of ${etc_files[*]}: it was made on a replaced instance before its settings were installed"
else
    etc_names=${etc_restored[*]}
    log "${etc_names// / and } from the backup are in $side_etc, NOT installed."
    log "    $etc_advice"
fi
