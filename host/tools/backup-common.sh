# shellcheck shell=bash
# Sourced by the backup and restore tools (installed as /usr/local/lib/gitlab-mattermost/backup-common.sh).
# The sourcing script sets `tool` to its own name first. Loading this file also loads the settings:
# the environment, then the KEY=value file $BACKUP_ENV_FILE, and sets how every run ends (end_run).

log() { printf '%s: %s\n' "${tool:?the sourcing script sets tool}" "$*"; }
fail() {
    log "$*" >&2
    exit 1
}

# --- How a run ends -----------------------------------------------------------------------------
# Every end goes through end_run, the EXIT trap: an error, `fail`, or a signal. Bash runs the EXIT
# trap after an untrapped HUP or PIPE with $? = 0, which would pass a dropped SSH connection for a
# success, so each signal is trapped and turned into a failure (status 128 + its number). The tool
# adds its rollback to failure_steps (functions, run in order, only when the run failed).
failure_steps=()
ended_by=""
work=""
run_started=false

on_signal() {
    ended_by=$1
    exit $((128 + $(kill -l "$1")))
}

end_run() {
    local status=$? step
    set +e
    # A second signal (systemd's stop, the rest of a hangup) must not cut the rollback short.
    trap '' HUP INT TERM PIPE
    if [ "$status" -ne 0 ]; then
        for step in "${failure_steps[@]}"; do
            "$step"
        done
        local why="exit status $status"
        [ -z "$ended_by" ] || why="ended by SIG$ended_by"
        log "FAILED ($why)" >&2
        # The terminal may be gone (a hangup): the host keeps the last failure.
        if "$run_started"; then
            printf '%s %s FAILED (%s)\n' "$(date -u +%Y%m%dT%H%M%SZ)" "$tool" "$why" >"${state_dir:?}/$tool.last-failure"
        fi
    fi
    [ -z "$work" ] || rm -rf "$work"
    exit "$status"
}

trap end_run EXIT
for signal in HUP INT TERM PIPE; do
    # shellcheck disable=SC2064 # the signal's name is fixed now, on purpose
    trap "on_signal $signal" "$signal"
done
unset signal

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

# The processes other than this one that have file $1 open (call it with fd 9 closed: its own
# subshells would hold the lock too).
processes_holding() {
    local target fd pid
    target=$(readlink -f "$1")
    for fd in /proc/[0-9]*/fd/*; do
        pid=${fd#/proc/}
        pid=${pid%%/*}
        [ "$pid" != "$$" ] || continue
        if [ "$(readlink "$fd" 2>/dev/null)" = "$target" ]; then
            printf '%s\n' "$pid"
        fi
    done | sort -un
}

# Starts a run: from /, with files only root can read, holding the lock named $1 in $state_dir
# (set by the sourcing tool), with a work directory $work (removed at the end). Tools that work on
# the same data share a lock name, so a timer never backs up a half-restored Mattermost.
# Children inherit the lock: one left running by a run that was killed (SIGKILL) would hold it for
# ever. Such a lock is reclaimed: the run that took it ($lock.pid) no longer holds it, so whatever
# still does is an orphan of that run, and is stopped. Work directories of such runs are removed.
begin_locked_run() {
    local lock="${state_dir:?the sourcing script sets state_dir}/$1.lock" owner holders leftover
    cd /
    umask 077
    install -d -m 0700 "$state_dir"
    exec 9>>"$lock"
    if ! flock -n 9; then
        owner=$(cat "$lock.pid" 2>/dev/null || true)
        holders=$(processes_holding "$lock" 9>&-)
        if [ -n "$owner" ] && grep -qx "$owner" <<<"$holders"; then
            fail "another backup or restore (pid $owner) holds $lock"
        fi
        log "reclaiming $lock: the run that took it (pid ${owner:-unknown}) has ended; stopping what it left running: pids $(tr '\n' ' ' <<<"$holders")"
        # shellcheck disable=SC2086 # one pid per word
        kill -TERM $holders 2>/dev/null || true
        flock -w 30 9 || fail "could not reclaim $lock from pids $(tr '\n' ' ' <<<"$holders")"
    fi
    printf '%s\n' "$$" >"$lock.pid"
    run_started=true
    shopt -s nullglob
    for leftover in "${TMPDIR:-/tmp}/$tool.work."*; do
        rm -rf "$leftover"
        log "removed $leftover, the work directory of an earlier run that did not finish"
    done
    shopt -u nullglob
    work=$(mktemp -d "${TMPDIR:-/tmp}/$tool.work.XXXXXXXX")
}

# Starts a backup run (begin_locked_run with lock $1) that writes to the bucket folder $2 of the
# stack. Sets, for the sourcing tool: timestamp (UTC), folder (<remote>/<stack>/$2) and destination
# (<folder>/<timestamp>, this run's backup, a folder that did not exist: a backup never writes into
# an existing one, which after a clock step-back could be a complete backup).
begin_backup_run() {
    begin_locked_run "$1"
    folder="${BACKUP_REMOTE:?}/${BACKUP_STACK:?}/$2"
    local existing attempt status
    for attempt in 1 2 3; do
        timestamp=$(date -u +%Y%m%dT%H%M%SZ)
        destination="$folder/$timestamp"
        status=0
        existing=$(rclone lsf --dirs-only "$folder/" </dev/null) || status=$?
        # rclone's status 3: the folder does not exist yet (no backup so far).
        [ "$status" -eq 0 ] || [ "$status" -eq 3 ] || fail "cannot list $folder/ (rclone status $status)"
        grep -qx "$timestamp/" <<<"$existing" || return 0
        log "$destination/ already exists (the clock went back?); a backup never writes into it (attempt $attempt of 3)"
        sleep 1
    done
    fail "refusing to write into $destination/, which already exists; nothing was uploaded"
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
