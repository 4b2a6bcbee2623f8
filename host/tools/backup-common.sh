# shellcheck shell=bash
# Sourced by the backup and restore tools (installed as /usr/local/lib/gitlab-mattermost/backup-common.sh).
# The sourcing script sets `tool` to its own name first. Loading this file also loads the settings:
# the environment, then the KEY=value file $BACKUP_ENV_FILE.

log() { printf '%s: %s\n' "${tool:?the sourcing script sets tool}" "$*"; }
fail() {
    log "$*" >&2
    exit 1
}

# Runs a PostgreSQL client as the database superuser's OS account ($pg_run_as, set by the sourcing
# tool; empty runs it as the caller): Omnibus authenticates local connections by peer, so gitlab-psql
# must be the one connecting.
as_pg() {
    if [ -n "${pg_run_as-}" ] && [ "$pg_run_as" != "$(id -un)" ]; then
        runuser -u "$pg_run_as" -- "$@"
    else
        "$@"
    fi
}

# Starts a run: from /, with files only root can read, holding the lock named $1 in $state_dir
# (set by the sourcing tool). Tools that work on the same data share a lock name, so a timer never
# backs up a half-restored Mattermost.
begin_locked_run() {
    local lock="${state_dir:?the sourcing script sets state_dir}/$1.lock"
    cd /
    umask 077
    install -d -m 0700 "$state_dir"
    exec 9>"$lock"
    flock -n 9 || fail "another backup or restore holds $lock"
}

# Reads KEY=value lines (the syntax systemd's EnvironmentFile= reads too) as data, never as code.
# A variable already set in the environment wins, so one run can override the file.
load_env_file() {
    local file=$1 line key value number=0
    [ -e "$file" ] || return 0
    while IFS= read -r line || [ -n "$line" ]; do
        number=$((number + 1))
        case "$line" in '' | '#'*) continue ;; esac
        key=${line%%=*} value=${line#*=}
        if [ "$key" = "$line" ] || [[ ! "$key" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]]; then
            fail "$file line $number is not KEY=value"
        fi
        if [[ "$value" =~ ^\"(.*)\"$ || "$value" =~ ^\'(.*)\'$ ]]; then
            value=${BASH_REMATCH[1]}
        fi
        if [ -z "${!key+set}" ]; then
            export "$key=$value"
        fi
    done <"$file"
}

load_env_file "${BACKUP_ENV_FILE:-/etc/gitlab-mattermost/backup.env}"
