#!/usr/bin/env bash
# Restores Mattermost's database on the standalone host to a moment, from the pgBackRest repository
# in the stack's bucket (installed as /usr/local/sbin/mattermost-pitr-restore).
# Usage: mattermost-pitr-restore <YYYY-MM-DDTHH:MM:SSZ>
#
#   1. checks the moment: not in the future, not before the end of the oldest backup in the
#      repository; asks the live cluster to archive its current WAL first (pgbackrest check), so that a
#      moment just past is covered;
#   2. while Mattermost keeps serving, restores into a NEW data directory beside the live one
#      (<data>.pitr-<ts>): pgbackrest restore --type=time --target-action=pause; starts it alone
#      (no TCP, a socket of its own, archiving off) until it has replayed up to the moment and
#      paused there, checks that it answers and holds Mattermost's database, and stops it;
#   3. stops Mattermost and PostgreSQL, renames the live directory to <data>.before-pitr-<ts> and the
#      restored one into its place, starts PostgreSQL, waits until it has paused at the moment again,
#      promotes it (pg_wal_replay_resume), starts Mattermost and waits for its ping.
# The restored cluster is promoted only once it is the live one, archiving: promotion starts a new
# timeline, whose history file must reach the repository for later restores to follow it, and a
# trial that is rolled back must leave no timeline there.
# Mattermost is down only during 3. Transactions committed after the moment are not in the restored
# database; the previous directory keeps them until an administrator removes it.
#
# Whatever ends a run (an error, SIGHUP from a dropped connection, SIGTERM, SIGINT, SIGPIPE) rolls
# back. Before 3: the restore or the trial server is stopped and the new directory removed; the live
# cluster served throughout. After: the restored directory is put aside as <data>.failed-pitr-<ts>,
# the previous one renamed back, and PostgreSQL and Mattermost started on it. A run killed outright
# (SIGKILL) leaves a <data>.pitr-* directory, which the next run removes, saying so.
#
# Settings (environment or $BACKUP_ENV_FILE): PGBACKREST_CONFIG, PITR_STANZA, PG_BIN, PG_RUN_AS,
# PG_HOST, PG_PORT, PG_USER, PG_DATA_DIR (default: the live cluster's data_directory), PG_SERVER_LOG,
# PG_STOP_COMMAND, PG_START_COMMAND, MM_DB, MM_STOP_COMMAND, MM_START_COMMAND, MM_PING_URL.
set -euo pipefail

tool=mattermost-pitr-restore
# Shared by the backup tools: log, fail, how a run ends, the lock. Installed beside them.
# shellcheck source-path=SCRIPTDIR source=backup-common.sh
. "${BACKUP_COMMON:-/usr/local/lib/gitlab-mattermost/backup-common.sh}"

usage="usage: mattermost-pitr-restore <YYYY-MM-DDTHH:MM:SSZ> (a moment in UTC)"
[ "$#" -eq 1 ] || fail "$usage"
moment=$1
[[ "$moment" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$ ]] || fail "$usage; got: $moment"
# date normalises an impossible date (February 30) into another one: a real moment reads back unchanged.
[ "$(date -u -d "$moment" +%Y-%m-%dT%H:%M:%SZ 2>/dev/null)" = "$moment" ] || fail "$moment is not a moment that exists"
target="${moment:0:10} ${moment:11:8}+00"

config=${PGBACKREST_CONFIG:-/etc/pgbackrest/pgbackrest.conf}
stanza=${PITR_STANZA:-mattermost}
pg_bin=${PG_BIN:-$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin 2>/dev/null | sort -V | tail -n 1)}
pg_run_as=${PG_RUN_AS-postgres}
export PGHOST=${PG_HOST:-/var/run/postgresql} PGPORT=${PG_PORT:-5432} PGUSER=${PG_USER:-postgres}
mm_db=${MM_DB:-mattermost}
pg_stop_command=${PG_STOP_COMMAND:-systemctl stop postgresql}
pg_start_command=${PG_START_COMMAND:-systemctl start postgresql}
stop_command=${MM_STOP_COMMAND:-systemctl stop mattermost}
start_command=${MM_START_COMMAND:-systemctl start mattermost}
ping_url=${MM_PING_URL:-http://127.0.0.1:8065/api/v4/system/ping}
ping_timeout=${MM_PING_TIMEOUT:-300}
ping_interval=${MM_PING_INTERVAL:-5}
recovery_timeout=${PITR_RECOVERY_TIMEOUT:-3600}
state_dir=${BACKUP_STATE_DIR:-/var/lib/gitlab-mattermost}
[ -x "$pg_bin/pg_ctl" ] || fail "no pg_ctl in '$pg_bin'; set PG_BIN to PostgreSQL's bin directory"

# psql on the cluster whose socket is in $1, database $2.
sql_on() {
    local socket=$1 database=$2
    shift 2
    PGHOST=$socket as_pg "$pg_bin/psql" -X -q -A -t -v ON_ERROR_STOP=1 --no-password -d "$database" "$@"
}
pgbackrest_run() { TZ=UTC as_pg pgbackrest --config="$config" --stanza="$stanza" "$@"; }

# Servers started here must not hold the run's lock (fd 9) after it ends: the next run would take
# them for what a killed run left running, and stop them. Hence 9>&- on every start.

# Waits until the cluster on socket $1 (data directory $2, log $3) has replayed up to the moment and
# paused there; fails if it stops first (its last FATAL lines say why, e.g. WAL that ends before it).
wait_for_pause() {
    local socket=$1 data=$2 server_log=$3 started state
    started=$(date +%s)
    until state=$(sql_on "$socket" postgres -c 'SELECT pg_get_wal_replay_pause_state()' 2>/dev/null) && [ "$state" = paused ]; do
        if ! as_pg "$pg_bin/pg_ctl" --pgdata="$data" status >/dev/null 2>&1; then
            fail "the restored cluster stopped before reaching $moment: $(grep -E 'FATAL|PANIC' "$server_log" 2>/dev/null | tail -n 3 | tr '\n' ' ')"
        fi
        [ $(($(date +%s) - started)) -lt "$recovery_timeout" ] || fail "the restored cluster did not reach $moment within ${recovery_timeout}s"
        sleep 0.2
    done
}

# --- state the rollback reads ---------------------------------------------------------------------
live_dir="" before_dir="" stamp="" new_dir="" trial_socket="" trial_running=false restore_pid=""
mattermost_stopped=false postgres_stopped=false live_moved=false restored_moved=false

stop_trial() {
    if "$trial_running"; then
        as_pg "$pg_bin/pg_ctl" --pgdata="$new_dir" --mode=immediate --wait stop >/dev/null 2>&1 || true
        trial_running=false
    fi
}

rolled_back() {
    local failed="$live_dir.failed-pitr-$stamp"
    if [ -n "$restore_pid" ]; then
        # The restore runs in a session of its own: its worker processes stop with it.
        kill -TERM -- "-$restore_pid" 2>/dev/null || kill -TERM "$restore_pid" 2>/dev/null || true
        wait "$restore_pid" 2>/dev/null || true
    fi
    stop_trial
    if "$restored_moved"; then
        # Whatever runs on the restored directory stops before it is put aside.
        bash -c "$pg_stop_command" || true
        if [ -f "$live_dir/postmaster.pid" ]; then
            as_pg "$pg_bin/pg_ctl" --pgdata="$live_dir" --mode=fast --wait stop >/dev/null 2>&1 || true
        fi
        mv -T "$live_dir" "$failed" || { log "could not move the restored directory aside; run: mv -T $live_dir $failed && mv -T $before_dir $live_dir && $pg_start_command && $start_command" >&2; return 0; }
        restored_moved=false
        log "the restored directory is kept as $failed for inspection" >&2
    fi
    if "$live_moved"; then
        mv -T "$before_dir" "$live_dir" || { log "could not put the previous directory back; run: mv -T $before_dir $live_dir && $pg_start_command && $start_command" >&2; return 0; }
        live_moved=false
    fi
    if [ -n "$new_dir" ] && [ -e "$new_dir" ]; then
        rm -rf "$new_dir"
    fi
    if "$postgres_stopped"; then
        log "starting PostgreSQL again on the previous data" >&2
        bash -c "$pg_start_command" 9>&- || log "could not start PostgreSQL; run: $pg_start_command" >&2
    fi
    if "$mattermost_stopped"; then
        bash -c "$start_command" 9>&- || log "could not start Mattermost; run: $start_command" >&2
    fi
    if "$postgres_stopped"; then
        log "restore to $moment FAILED after the swap began; PostgreSQL and Mattermost run on the previous data again" >&2
    else
        log "restore to $moment FAILED before anything live was changed: the live cluster kept serving" >&2
    fi
}
failure_steps+=(rolled_back)

begin_locked_run mattermost
stamp=$(date -u +%Y%m%dT%H%M%SZ)
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
[[ ! "$moment" > "$now" ]] || fail "refusing: $moment is in the future (now is $now); nothing was changed"

live_dir=${PG_DATA_DIR:-$(sql_on "$PGHOST" postgres -c 'SHOW data_directory' 2>/dev/null || true)}
[ -n "$live_dir" ] || fail "the live cluster does not answer at $PGHOST and PG_DATA_DIR is not set: cannot tell where its data directory is"
[ -d "$live_dir" ] || fail "refusing: the live data directory $live_dir does not exist (a run that was killed mid-swap? its .before-pitr-* sibling holds the previous data)"
before_dir="$live_dir.before-pitr-$stamp"
[ ! -e "$before_dir" ] || fail "refusing: $before_dir already exists"

# What a killed run left: its trial server and its new directory.
shopt -s nullglob
for leftover in "$live_dir".pitr-*; do
    if [ -f "$leftover/postmaster.pid" ]; then
        as_pg "$pg_bin/pg_ctl" --pgdata="$leftover" --mode=immediate --wait stop >/dev/null 2>&1 || true
    fi
    rm -rf "$leftover"
    log "removed $leftover, left by an earlier restore that did not finish"
done
shopt -u nullglob

# --- 1. the moment is covered by the repository ------------------------------------------------------
log "archiving the live cluster's current WAL (pgbackrest check)"
pgbackrest_run check >/dev/null 2>&1 || log "WARNING: the live cluster's current WAL could not be archived now; the restore uses what the repository holds"
info=$(pgbackrest_run info) || fail "cannot read the repository's backups (pgbackrest info)"
oldest=$(sed -n 's|^ *timestamp start/stop: [0-9: -]* / \([0-9]\{4\}-[0-9-]* [0-9:]*\)$|\1|p' <<<"$info" | sort | head -n 1)
[ -n "$oldest" ] || fail "refusing: the repository holds no backup of stanza $stanza; nothing was changed"
[[ ! "${moment:0:10} ${moment:11:8}" < "$oldest" ]] || fail "refusing: $moment is before the end of the oldest backup ($oldest UTC); nothing was changed"

# --- 2. restore beside the live directory and try it -------------------------------------------------
new_dir="$live_dir.pitr-$stamp"
install -d -m 0700 "$new_dir"
[ -z "$pg_run_as" ] || chown "$pg_run_as:" "$new_dir"
log "restoring to $moment into $new_dir while Mattermost keeps serving"
restore_command=(pgbackrest --config="$config" --stanza="$stanza" --pg1-path="$new_dir" --type=time --target="$target" --target-action=pause restore)
if [ -n "$pg_run_as" ] && [ "$pg_run_as" != "$(id -un)" ]; then restore_command=(runuser -u "$pg_run_as" -- "${restore_command[@]}"); fi
setsid env TZ=UTC "${restore_command[@]}" &
restore_pid=$!
# `wait` returns at once when a signal arrives: the rollback stops the restore then.
wait "$restore_pid"
restore_pid=""

# Ubuntu keeps a cluster's postgresql.conf and pg_hba.conf in /etc: the trial server gets its own,
# minimal ones (the owner connects by peer on the trial socket), removed before the swap.
trial_files=()
for file in postgresql.conf pg_hba.conf pg_ident.conf; do
    if [ ! -e "$new_dir/$file" ]; then
        trial_files+=("$new_dir/$file")
        if [ "$file" = pg_hba.conf ]; then echo 'local all all peer' >"$new_dir/$file"; else : >"$new_dir/$file"; fi
        [ -z "$pg_run_as" ] || chown "$pg_run_as:" "$new_dir/$file"
    fi
done
chmod 0711 "$work"
trial_socket="$work/trial"
install -d -m 0700 "$trial_socket"
[ -z "$pg_run_as" ] || chown "$pg_run_as:" "$trial_socket"
log "starting the restored cluster alone to replay up to $moment"
trial_running=true
as_pg "$pg_bin/pg_ctl" --pgdata="$new_dir" --log="$trial_socket/server.log" --wait --timeout="$recovery_timeout" \
    --options="-c listen_addresses='' -c unix_socket_directories='$trial_socket' -c port=$PGPORT -c archive_mode=off" start >/dev/null 9>&- ||
    fail "the restored cluster did not start: $(tail -n 5 "$trial_socket/server.log" 2>/dev/null | tr '\n' ' ')"
wait_for_pause "$trial_socket" "$new_dir" "$trial_socket/server.log"
[ -n "$(sql_on "$trial_socket" postgres -v name="$mm_db" <<<"SELECT 1 FROM pg_database WHERE datname = :'name';")" ] ||
    fail "the restored cluster holds no database $mm_db"
tables=$(sql_on "$trial_socket" "$mm_db" -c "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
log "the restored cluster reached $moment, paused there, and answers: database $mm_db with $tables tables"
as_pg "$pg_bin/pg_ctl" --pgdata="$new_dir" --mode=fast --wait stop >/dev/null
trial_running=false
if [ "${#trial_files[@]}" -gt 0 ]; then rm -f "${trial_files[@]}"; fi

# --- 3. swap ------------------------------------------------------------------------------------------
log "stopping Mattermost: $stop_command"
mattermost_stopped=true
bash -c "$stop_command"
log "stopping PostgreSQL: $pg_stop_command"
postgres_stopped=true
bash -c "$pg_stop_command"
mv -T "$live_dir" "$before_dir"
live_moved=true
mv -T "$new_dir" "$live_dir"
restored_moved=true
log "swapped in: $live_dir is the restored cluster; the previous one is $before_dir"
bash -c "$pg_start_command" 9>&-
started=$(date +%s)
until sql_on "$PGHOST" postgres -c 'SELECT 1' >/dev/null 2>&1; do
    [ $(($(date +%s) - started)) -lt 120 ] || fail "PostgreSQL did not answer within 120 s on the restored directory"
    sleep 0.2
done
wait_for_pause "$PGHOST" "$live_dir" "${PG_SERVER_LOG:-/var/log/postgresql/postgresql-$(basename "$(dirname "$live_dir")")-$(basename "$live_dir").log}"
log "promoting the restored cluster at $moment: it starts a new timeline, archived to the repository"
sql_on "$PGHOST" postgres -c 'SELECT pg_wal_replay_resume()' >/dev/null
started=$(date +%s)
until [ "$(sql_on "$PGHOST" postgres -c 'SELECT pg_is_in_recovery()' 2>/dev/null)" = f ]; do
    [ $(($(date +%s) - started)) -lt 120 ] || fail "the restored cluster was not promoted within 120 s"
    sleep 0.2
done
bash -c "$start_command" 9>&-
started=$(date +%s)
answer=""
until answer=$(curl --silent --show-error --max-time 10 --fail "$ping_url" 2>&1) && [[ "$answer" == *'"status":"OK"'* ]]; do
    [ $(($(date +%s) - started)) -lt "$ping_timeout" ] || fail "Mattermost did not answer \"status\":\"OK\" at $ping_url within ${ping_timeout}s; last answer: $answer"
    sleep "$ping_interval"
done
log "restore to $moment complete; Mattermost answers at $ping_url"
log "the previous data directory is kept as $before_dir (never start it with archiving on: it would write to the repository); once satisfied, remove it with: sudo rm -rf $before_dir"
