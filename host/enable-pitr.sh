#!/usr/bin/env bash
# Turns on point-in-time recovery of the host's PostgreSQL: continuous WAL archiving to the pgBackRest
# repository in the stack's bucket, and periodic physical backups. pgbackrest.conf (CONFIG) and the
# backup units are in place before it runs.
#   1. installs pgBackRest from Ubuntu's packages when it is missing;
#   2. creates the stanza (on an existing stanza of this cluster, pgBackRest only checks it);
#   3. sets wal_level (replica, unless it is already higher), archive_mode, archive_command and
#      archive_timeout with ALTER SYSTEM and reloads; restarts PostgreSQL (RESTART_COMMAND) only when a
#      setting that needs it changed, which happens once: the first time;
#   4. checks that a WAL segment reaches the repository (pgbackrest check);
#   5. makes the first full backup when the repository has none;
#   6. enables and starts the timers given.
# Usage: enable-pitr.sh CONFIG STANZA ARCHIVE_TIMEOUT_SECONDS [TIMER...]
# Re-running changes nothing that is already so. Whatever ends a run early (an error, SIGHUP, SIGINT,
# SIGTERM, SIGPIPE) puts postgresql.auto.conf back as it was and reloads (restarts, if this run did),
# so PostgreSQL never keeps WAL for an archive it cannot reach; the FAILED line says why.
# PG_BIN, PG_HOST, PG_PORT, PG_USER, PG_RUN_AS and PG_RESTART_COMMAND point it at another cluster (tests).
set -euo pipefail

log() { printf 'enable-pitr: %s\n' "$*"; }
# shellcheck source-path=SCRIPTDIR source=lib/step-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/step-common.sh"

[ "$#" -ge 3 ] || fail "usage: enable-pitr.sh CONFIG STANZA ARCHIVE_TIMEOUT_SECONDS [TIMER...]"
config=$1 stanza=$2 archive_timeout=$3
shift 3
timers=("$@")
[[ "$archive_timeout" =~ ^[1-9][0-9]*$ ]] || fail "ARCHIVE_TIMEOUT_SECONDS must be a whole number of seconds from 1, got '$archive_timeout'"
[[ "$stanza" =~ ^[A-Za-z0-9_-]+$ ]] || fail "STANZA must be letters, digits, _ or -, got '$stanza'"
[ -f "$config" ] || fail "$config does not exist: pgbackrest.conf is put in place before this step"

pg_bin=${PG_BIN:-/usr/bin}
pg_run_as=${PG_RUN_AS-postgres}
restart_command=${PG_RESTART_COMMAND:-systemctl restart postgresql}
export PGHOST=${PG_HOST:-/var/run/postgresql} PGPORT=${PG_PORT:-5432} PGUSER=${PG_USER:-postgres}
cd /

# A command as the cluster's owner, who runs PostgreSQL and reads its data directory.
as_owner() {
    if [ -n "$pg_run_as" ] && [ "$pg_run_as" != "$(id -un)" ]; then
        runuser -u "$pg_run_as" -- "$@"
    else
        "$@"
    fi
}
sql() { as_owner "$pg_bin/psql" -X -q -A -t -v ON_ERROR_STOP=1 -d postgres "$@"; }
pgbackrest_run() { as_owner pgbackrest --config="$config" --stanza="$stanza" "$@"; }

wait_for_postgres() {
    local started
    started=$(now_ms)
    until sql -c 'SELECT 1' >/dev/null 2>&1; do
        reached "$started" 120 && return 1
        sleep 0.5
    done
}

if ! command -v pgbackrest >/dev/null 2>&1; then
    log "installing pgbackrest"
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -q pgbackrest
fi
# It holds no secret (the instance profile gives the credentials); the cluster's owner reads it.
chmod 0644 "$config"

log "creating stanza $stanza (checks an existing one)"
pgbackrest_run stanza-create

data_dir=$(sql -c 'SHOW data_directory')
auto_conf="$data_dir/postgresql.auto.conf"
auto_conf_before=""
restarted=false
put_settings_back() {
    [ -n "$auto_conf_before" ] || return 0
    cp -p "$auto_conf_before" "$auto_conf" || { log "could not put $auto_conf back; its previous content is in $auto_conf_before" >&2; return 0; }
    if "$restarted"; then
        bash -c "$restart_command" || log "could not restart PostgreSQL; run: $restart_command" >&2
    else
        sql -c 'SELECT pg_reload_conf()' >/dev/null || log "could not reload PostgreSQL's settings" >&2
    fi
    log "archive settings put back as they were" >&2
}
remove_copy() { [ -z "$auto_conf_before" ] || rm -f "$auto_conf_before"; }
backup_pid=""
stop_backup() {
    [ -n "$backup_pid" ] || return 0
    kill -TERM -- "-$backup_pid" 2>/dev/null || kill -TERM "$backup_pid" 2>/dev/null || true
    wait "$backup_pid" 2>/dev/null || true
    log "stopped the unfinished full backup; the next run makes it again" >&2
}
rollback_steps+=(stop_backup put_settings_back)
cleanup_steps+=(remove_copy)
auto_conf_before=$(mktemp "${TMPDIR:-/tmp}/postgresql.auto.conf.XXXXXX")
cp -p "$auto_conf" "$auto_conf_before"

archive_command="pgbackrest --config=$config --stanza=$stanza archive-push %p"
# replica is the least archiving needs; logical includes it.
wal_level=$(sql -c 'SHOW wal_level')
[ "$wal_level" != minimal ] || wal_level=replica
sql -v wal_level="$wal_level" -v command="$archive_command" -v timeout="$archive_timeout" >/dev/null <<'SQL'
ALTER SYSTEM SET wal_level = :'wal_level';
ALTER SYSTEM SET archive_mode = 'on';
ALTER SYSTEM SET archive_command = :'command';
ALTER SYSTEM SET archive_timeout = :'timeout';
SELECT pg_reload_conf();
SQL
# pg_settings shows what a reload could not apply yet; other settings waiting for a restart are not
# this step's to apply.
sleep 0.5
pending=$(sql -c "SELECT string_agg(name, ', ') FROM pg_settings WHERE pending_restart AND name IN ('archive_mode', 'wal_level')")
if [ -n "$pending" ]; then
    log "restarting PostgreSQL for $pending: $restart_command"
    restarted=true
    bash -c "$restart_command"
    wait_for_postgres || fail "PostgreSQL did not answer within 120 s of its restart"
fi
log "archiving: archive_mode $(sql -c 'SHOW archive_mode'), archive_timeout $(sql -c 'SHOW archive_timeout')"

log "checking that WAL reaches the repository"
pgbackrest_run check

if TZ=UTC pgbackrest_run info | grep -q 'full backup:'; then
    log "the repository has a full backup already"
else
    log "making the first full backup"
    progress_start "the first full backup"
    # In a session of its own, waited for with `wait`, which a signal interrupts at once (a foreground
    # command would delay the trap until it ended); a failure stops it and its workers.
    backup_command=(pgbackrest --config="$config" --stanza="$stanza" --type=full backup)
    if [ -n "$pg_run_as" ] && [ "$pg_run_as" != "$(id -un)" ]; then backup_command=(runuser -u "$pg_run_as" -- "${backup_command[@]}"); fi
    setsid "${backup_command[@]}" &
    backup_pid=$!
    wait "$backup_pid"
    backup_pid=""
    progress_stop
fi

if [ "${#timers[@]}" -gt 0 ]; then
    systemctl daemon-reload
    for timer in "${timers[@]}"; do
        systemctl enable --now "$timer"
    done
fi
log "point-in-time recovery is on: stanza $stanza, WAL archived at least every ${archive_timeout}s while anything is written"
