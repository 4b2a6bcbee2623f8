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

# Starts a backup run (begin_locked_run with lock $1) that writes to the bucket folder $2 of the
# stack. Sets, for the sourcing tool: timestamp (UTC), folder (<remote>/<stack>/$2), destination
# (<folder>/<timestamp>, this run's backup) and work (a temporary directory, removed on exit).
begin_backup_run() {
    begin_locked_run "$1"
    # shellcheck disable=SC2034 # the sourcing tool uses them
    {
        timestamp=$(date -u +%Y%m%dT%H%M%SZ)
        folder="${BACKUP_REMOTE:?}/${BACKUP_STACK:?}/$2"
        destination="$folder/$timestamp"
    }
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    trap 'exit 143' TERM
    trap 'exit 130' INT
}

# Records that this run's backup succeeded: on the host in $state_dir/<tool>.last-success, and in the
# bucket as <folder>/last-success.txt, which `pulumi up` reads for the stack's outputs. Written with
# rcat so that the object is typed text/plain by its name: S3 hands the content of text objects only
# to readers such as the stack.
record_success() {
    local state_file="$state_dir/$tool.last-success"
    printf '%s\n' "$timestamp" >"$state_file.partial"
    chmod 0644 "$state_file.partial"
    mv -f "$state_file.partial" "$state_file"
    printf '%s\n' "$timestamp" | rclone rcat "$folder/last-success.txt" ||
        fail "backup $timestamp is complete, but recording it as $folder/last-success.txt failed"
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
