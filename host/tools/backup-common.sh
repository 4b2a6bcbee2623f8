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

# Records a successful run of backup $1 (its timestamp $2; its bucket folder $3): on the host in
# $state_dir/$1.last-success, and in the bucket as $3/last-success.txt, which `pulumi up` reads for
# the stack's outputs. Written with rcat so that the object is typed text/plain by its name: S3 hands
# the content of text objects only to readers such as the stack.
record_success() {
    local state_file="${state_dir:?the sourcing script sets state_dir}/$1.last-success"
    printf '%s\n' "$2" >"$state_file.partial"
    chmod 0644 "$state_file.partial"
    mv -f "$state_file.partial" "$state_file"
    printf '%s\n' "$2" | rclone rcat "$3/last-success.txt" ||
        fail "backup $2 is complete, but recording it as $3/last-success.txt failed"
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
