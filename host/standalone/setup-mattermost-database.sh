#!/usr/bin/env bash
# Creates Mattermost's database and role in the host's PostgreSQL, or brings them in line: role
# `mmuser` with the password read from stdin (one line), database `mattermost` owned by it (with its
# schema `public`, as PostgreSQL 15 and later need; Mattermost's preparations.rst), and pg_hba rules
# that let only that role reach that database with a SCRAM password, over loopback and the local
# socket. The password never appears on a command line or in an environment: it travels to psql
# inside the SQL on psql's stdin, with statement logging off for the session.
# Usage: setup-mattermost-database.sh < password
# Re-running is safe, and changes the password when a different one is given.
# PG_BIN, PG_HOST, PG_PORT, PG_USER and PG_RUN_AS point it at another cluster (tests).
set -Eeuo pipefail
log() { printf 'setup-mattermost-database: %s\n' "$*"; }
# Traps and fail, shared with the other host scripts: rollback_steps run after a failure, whatever
# ended the run, cleanup_steps after every run.
# shellcheck source-path=SCRIPTDIR source=../lib/step-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/step-common.sh"

hba_previous=""
hba_file=""
scratch=()
undo() {
    # Put the rules back as they were; the running server still has the old ones loaded.
    if [ -n "$hba_previous" ]; then
        mv -f "$hba_previous" "$hba_file"
        log "restored $hba_file" >&2
    fi
}
rollback_steps+=(undo)
clean_up() {
    if [ "${#scratch[@]}" -gt 0 ]; then rm -f -- "${scratch[@]}"; fi
}
cleanup_steps+=(clean_up)

database=mattermost role=mmuser
pg_bin=${PG_BIN:-/usr/bin}
pg_run_as=${PG_RUN_AS-postgres}
pg_args=(-X -q -A -t -v ON_ERROR_STOP=1 -h "${PG_HOST:-/var/run/postgresql}" -p "${PG_PORT:-5432}" -U "${PG_USER:-postgres}")

# psql as the database superuser's OS account, SQL on stdin.
psql_as_superuser() {
    if [ -n "$pg_run_as" ] && [ "$pg_run_as" != "$(id -un)" ]; then
        runuser -u "$pg_run_as" -- "$pg_bin/psql" "${pg_args[@]}" "$@"
    else
        "$pg_bin/psql" "${pg_args[@]}" "$@"
    fi
}

# psql runs as another account, which may not enter the caller's directory.
cd /
password=""
IFS= read -r password || true
[ -n "$password" ] || fail "no password on stdin"
# A literal in SQL: single quotes doubled, backslashes literal (standard_conforming_strings).
case "$password" in
*[[:cntrl:]]*) fail "the password contains control characters" ;;
esac
quoted=${password//\'/\'\'}

log "ensuring role $role and database $database"
printf '%s\n' \
    "SET log_statement = 'none';" \
    "SET standard_conforming_strings = on;" \
    "SET password_encryption = 'scram-sha-256';" \
    "SELECT 'CREATE ROLE $role LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$role') \\gexec" \
    "ALTER ROLE $role WITH LOGIN PASSWORD '$quoted';" \
    "SELECT 'CREATE DATABASE $database WITH OWNER $role ENCODING ''UTF8'' LC_COLLATE ''C.UTF-8'' LC_CTYPE ''C.UTF-8'' TEMPLATE template0' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$database') \\gexec" \
    "ALTER DATABASE $database OWNER TO $role;" |
    psql_as_superuser -d postgres
printf '%s\n' \
    "ALTER SCHEMA public OWNER TO $role;" \
    "GRANT USAGE, CREATE ON SCHEMA public TO $role;" |
    psql_as_superuser -d "$database"

# pg_hba.conf: our rules first, so the package's defaults (peer for local users) do not match first.
hba_file=$(printf 'SHOW hba_file;\n' | psql_as_superuser -d postgres)
[ -f "$hba_file" ] || fail "PostgreSQL names $hba_file as its pg_hba.conf, which does not exist"
begin="# BEGIN gitlab-mattermost: Mattermost's database role, password only"
end="# END gitlab-mattermost"
rules=$(printf '%s\n' "$begin" \
    "local   $database   $role                  scram-sha-256" \
    "host    $database   $role   127.0.0.1/32   scram-sha-256" \
    "host    $database   $role   ::1/128        scram-sha-256" \
    "$end")
staged=$(mktemp "$hba_file.XXXXXX")
scratch+=("$staged")
{
    printf '%s\n' "$rules"
    # The file without an earlier copy of our block.
    sed "/^$begin\$/,/^$end\$/d" "$hba_file"
} >"$staged"
if cmp -s "$staged" "$hba_file"; then
    log "pg_hba.conf already has the rules"
    exit 0
fi
chown --reference="$hba_file" "$staged"
chmod --reference="$hba_file" "$staged"
previous=$(mktemp "$hba_file.previous.XXXXXX")
scratch+=("$previous")
cp -p "$hba_file" "$previous"
hba_previous=$previous
mv -f "$staged" "$hba_file"
# PostgreSQL reads the file on disk for this view: a rule it would reject shows up with its error.
errors=$(printf 'SELECT line_number || %s || error FROM pg_hba_file_rules WHERE error IS NOT NULL;\n' "': '" | psql_as_superuser -d postgres)
[ -z "$errors" ] || fail "PostgreSQL rejects the new pg_hba.conf: $errors"
printf 'SELECT pg_reload_conf();\n' | psql_as_superuser -d postgres >/dev/null
hba_previous=""
log "pg_hba.conf updated and reloaded"
