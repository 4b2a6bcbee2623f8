# shellcheck shell=bash
# shellcheck disable=SC2034 # the settings below are read by the sourcing scripts
# Shared by the two halves of moving a bundled Mattermost to the standalone host
# (export-bundled-mattermost.sh on the bundled host, import-standalone-mattermost.sh on the new one).
# Sourced after ../lib/step-common.sh; run remotely, it travels in place of its `.` line
# (hostScriptCommand).
#
# The halves meet in the stack's backup bucket, below <BACKUP_REMOTE>/<BACKUP_STACK>/mattermost-migration/:
#   <run>/…              one export: the objects, then manifest.txt LAST (a run without it is incomplete)
#   ready.txt            the newest run whose manifest is uploaded
#   <run>/taken.txt      the import has taken the run (the export gives up on a run nobody takes)
#   <run>/verdict.txt    the import's answer: `verified`, or `failed: <why>`
#   <run>/abandoned.txt  the export gave the run up (and started the bundled Mattermost again)
#   completed.txt        the run that moved Mattermost; both halves do nothing once it exists
#   export-failed.txt, import-failed.txt
#                        `<epoch ms> <why>`: a half failed before a run was taken; the other half,
#                        running since before that moment, gives up at once instead of waiting
# rclone is configured only through RCLONE_CONFIG_<REMOTE>_* variables from the environment or the
# backup tools' settings file, as the backup tools are.

# Reads KEY=value lines of $1 (the backup tools' settings file, systemd's EnvironmentFile= syntax) as
# data, never as code; a variable already set in the environment wins.
read_settings_file() {
    local file=$1 line key value
    [ -e "$file" ] || return 0
    while IFS= read -r line || [ -n "$line" ]; do
        [[ "$line" =~ ^([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] || continue
        key=${BASH_REMATCH[1]} value=${BASH_REMATCH[2]}
        [[ "$value" =~ ^\"(.*)\"$ || "$value" =~ ^\'(.*)\'$ ]] && value=${BASH_REMATCH[1]}
        [ -n "${!key+set}" ] || export "$key=$value"
    done <"$file"
}

read_settings_file "${BACKUP_ENV_FILE:-/etc/gitlab-mattermost/backup.env}"
: "${BACKUP_REMOTE:?set BACKUP_REMOTE (the backup settings file sets it) to the rclone remote and bucket}"
: "${BACKUP_STACK:?set BACKUP_STACK (the backup settings file sets it) to the stack name}"
export RCLONE_CONFIG=/dev/null
# The sourcing scripts read these settings, and set pg_bin and pg_run_as for as_pg and pg_sql.
migration_folder="$BACKUP_REMOTE/$BACKUP_STACK/mattermost-migration"
state_dir=${MIGRATION_STATE_DIR:-/var/lib/gitlab-mattermost}
ping_url=${MM_PING_URL:-http://127.0.0.1:8065/api/v4/system/ping}
ping_timeout=${MM_PING_TIMEOUT:-300}
ping_interval=${MM_PING_INTERVAL:-5}
# How long one half waits for the other (the export for the verdict, the import for an export).
await_seconds=${MIGRATION_AWAIT_SECONDS:-7200}
poll_seconds=${MIGRATION_POLL_SECONDS:-5}

# The text of object $1 below the migration folder, or nothing (status 1) when it does not exist.
read_object() {
    local text status=0
    text=$(rclone cat "$migration_folder/$1" </dev/null 2>/dev/null) || status=$?
    [ "$status" -eq 0 ] && [ -n "$text" ] || return 1
    printf '%s\n' "$text"
}

# Writes $2 as object $1 below the migration folder.
write_object() {
    printf '%s\n' "$2" | rclone rcat "$migration_folder/$1"
}

# Runs a PostgreSQL client as the account that may connect as the superuser ($pg_run_as; empty: the
# caller), as the backup tools do: local connections authenticate by peer.
as_pg() {
    if [ -n "$pg_run_as" ] && [ "$pg_run_as" != "$(id -un)" ]; then
        runuser -u "$pg_run_as" -- "$@"
    else
        "$@"
    fi
}

# psql on database $1, SQL on stdin, unaligned and tuples only, stopping at the first error.
pg_sql() {
    local database=$1
    shift
    # shellcheck disable=SC2154 # set by the sourcing script
    as_pg "$pg_bin/psql" -X -q -A -t -v ON_ERROR_STOP=1 --no-password -d "$database" "$@"
}

# One line per table of schema public of database $1: `<table> <rows> <checksum>`, sorted. The
# checksum sums an md5 of every row's text, so it is independent of row order and exact per row; the
# session settings fix every text form that depends on them.
table_fingerprints() {
    printf '%s\n' \
        "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres';" \
        "SET bytea_output = 'hex'; SET extra_float_digits = 1;" \
        "SELECT format('SELECT %L, count(*), coalesce(sum((''x'' || substr(h, 1, 15))::bit(60)::bigint), 0) || ''/'' || coalesce(sum((''x'' || substr(h, 16, 15))::bit(60)::bigint), 0) FROM (SELECT md5(t::text) AS h FROM public.%I AS t) AS r', tablename, tablename) FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename \\gexec" |
        pg_sql "$1" -F ' '
}

# Whether Mattermost answers its ping with "status":"OK" within $ping_timeout seconds.
mattermost_answers() {
    local started
    started=$(now_ms)
    until curl --silent --max-time 10 "$ping_url" 2>/dev/null | grep -q '"status" *: *"OK"'; do
        reached "$started" "$ping_timeout" && return 1
        sleep "$ping_interval"
    done
}

# Free bytes on the filesystem holding directory $1.
free_bytes() {
    df --output=avail -B1 -- "$1" | tail -n 1 | tr -d ' '
}
