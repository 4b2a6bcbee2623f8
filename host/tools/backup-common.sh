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
recorded_backup=""
work=""
run_started=false

# `on_signal NAME NUMBER`: the number comes with the trap, as the handler must not parse a "$(...)".
on_signal() {
    ended_by=$1
    exit $((128 + $2))
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
        [ -z "$recorded_backup" ] || why="$why after backup $recorded_backup was complete and recorded; only its retention step did not finish"
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
# `trap_signals ACTION SIGNAL...`; ACTION must not return. Bash 5.2 may run a pending trap while it
# parses a "$(...)" it is expanding (xparse_dolparen in parse.y calls parse_command, which runs traps;
# 5.3 no longer does) and parse the action as the inside of that substitution: an action alone fails
# there with "unexpected EOF while looking for matching `)'", and the signal is lost. A line holding `)`
# after the action ends that parse; the usual parse runs the action before it reaches that line.
trap_signals() {
    local action=$1
    shift
    trap -- "$action"$'\n)' "$@"
}
for signal in HUP INT TERM PIPE; do
    trap_signals "on_signal $signal $(kill -l "$signal")" "$signal"
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
    recorded_backup=$timestamp
}

# --- Retention ---------------------------------------------------------------------------------
# The bucket's lifecycle rule expires only objects tagged $BACKUP_EXPIRABLE_TAG (key=value), counting
# retentionDays from when each object was written. After a successful backup, every object of this
# job's backups older than the newest $BACKUP_KEEP_NEWEST complete ones (with a manifest, stamped at
# or before now) gets that tag: those newest backups are never tagged, so never expired, however old.
# Folders without a manifest older than them (runs that failed) are tagged too; last-success.txt and
# folders stamped after now never are. Re-tagging is harmless, so a run that stopped halfway is
# finished by the next one; $state_dir/<tool>.expirable lists the backups already fully tagged.
# rclone cannot tag an existing object, so this signs S3's PutObjectTagging with curl, using the
# instance profile's credentials from IMDSv2; they go to curl on stdin, never on a command line.
# A failure here never fails the backup, which is complete and recorded by then: it is reported
# (stderr, $state_dir/<tool>.last-retention-failure) and the next run tries again.
apply_retention() {
    local failure_file="$state_dir/$tool.last-retention-failure"
    if tag_expirable_backups; then
        rm -f "$failure_file"
    else
        log "WARNING: retention FAILED: older backups were not all tagged expirable (they are kept, not lost); backup $timestamp is complete; the next backup tries again" >&2
        printf '%s %s retention FAILED (backup %s is complete)\n' "$(date -u +%Y%m%dT%H%M%SZ)" "$tool" "$timestamp" >"$failure_file"
    fi
}

# Called only from apply_retention (so `set -e` does not apply here: every step checks its status).
tag_expirable_backups() {
    local keep=${BACKUP_KEEP_NEWEST-} tag=${BACKUP_EXPIRABLE_TAG-} cache="$state_dir/$tool.expirable"
    local now listing backup cutoff="" kept=0 object tagged=0 remote bucket
    local -a complete=() pending=()
    [[ "$keep" =~ ^[1-9][0-9]*$ ]] || { log "BACKUP_KEEP_NEWEST must be a whole number from 1, got '$keep'" >&2; return 1; }
    [[ "$tag" =~ ^[A-Za-z0-9._-]+=[A-Za-z0-9._-]+$ ]] || { log "BACKUP_EXPIRABLE_TAG must be key=value, got '$tag'" >&2; return 1; }
    now=$(date -u +%Y%m%dT%H%M%SZ) || return 1
    listing=$(rclone lsf -R --files-only "$folder/" </dev/null) || { log "cannot list $folder/" >&2; return 1; }
    mapfile -t complete < <(grep -E '^[0-9]{8}T[0-9]{6}Z/manifest\.txt$' <<<"$listing" | cut -d/ -f1 | sort -r)
    for backup in "${complete[@]}"; do
        [[ ! "$backup" > "$now" ]] || continue
        kept=$((kept + 1))
        if [ "$kept" -eq "$keep" ]; then
            cutoff=$backup
            break
        fi
    done
    if [ -z "$cutoff" ]; then
        log "retention: $kept complete backups at or before now, none beyond the newest $keep: nothing to tag"
        return 0
    fi
    touch "$cache" || return 1
    mapfile -t pending < <(grep -oE '^[0-9]{8}T[0-9]{6}Z/' <<<"$listing" | tr -d / | sort -u | while IFS= read -r backup; do
        if [[ "$backup" < "$cutoff" ]] && ! grep -qxF "$backup" "$cache"; then printf '%s\n' "$backup"; fi
    done)
    if [ "${#pending[@]}" -eq 0 ]; then
        log "retention: keeping the newest $keep complete backups (from $cutoff on); no older backup needs tagging"
        return 0
    fi
    remote=${BACKUP_REMOTE%%:*} bucket=${BACKUP_REMOTE#*:}
    s3_credentials || return 1
    for backup in "${pending[@]}"; do
        while IFS= read -r object; do
            tag_object "$bucket" "${folder#"$BACKUP_REMOTE/"}/$object" "$tag" "$remote" || return 1
            tagged=$((tagged + 1))
        done < <(grep -E "^$backup/" <<<"$listing")
        printf '%s\n' "$backup" >>"$cache" || return 1
    done
    log "retention: keeping the newest $keep complete backups (from $cutoff on); tagged $tagged objects of ${#pending[@]} older backups expirable: ${pending[*]}"
}

# Sets s3_access_key, s3_secret_key and s3_session_token from the instance profile, through IMDSv2
# ($BACKUP_IMDS_URL overrides the address, for tests). The IMDS token goes to curl on stdin too.
s3_credentials() {
    local imds=${BACKUP_IMDS_URL:-http://169.254.169.254} token role document
    token=$(curl --silent --show-error --fail --max-time 10 --request PUT --header "X-aws-ec2-metadata-token-ttl-seconds: 300" "$imds/latest/api/token" </dev/null) ||
        { log "retention: cannot get an IMDSv2 session token from $imds" >&2; return 1; }
    role=$(printf 'header = "X-aws-ec2-metadata-token: %s"\n' "$token" |
        curl --silent --show-error --fail --max-time 10 --config - "$imds/latest/meta-data/iam/security-credentials/") ||
        { log "retention: this host has no instance profile (IMDS $imds)" >&2; return 1; }
    role=${role%%$'\n'*}
    [[ "$role" =~ ^[A-Za-z0-9+=,.@_-]+$ ]] || { log "retention: unexpected role name from IMDS" >&2; return 1; }
    document=$(printf 'header = "X-aws-ec2-metadata-token: %s"\n' "$token" |
        curl --silent --show-error --fail --max-time 10 --config - "$imds/latest/meta-data/iam/security-credentials/$role") ||
        { log "retention: cannot read the credentials of role $role from IMDS" >&2; return 1; }
    if ! { s3_access_key=$(json_string "$document" AccessKeyId) && s3_secret_key=$(json_string "$document" SecretAccessKey) &&
        s3_session_token=$(json_string "$document" Token); }; then
        log "retention: IMDS gave no credentials for role $role" >&2
        return 1
    fi
}

# The value of string field $2 of the flat JSON object $1 (IMDS's credential values hold no quotes).
json_string() {
    [[ "$1" =~ \"$2\"[[:space:]]*:[[:space:]]*\"([^\"]+)\" ]] || return 1
    printf '%s' "${BASH_REMATCH[1]}"
}

# Replaces the tag set of object $2 of bucket $1 with tag $3 (key=value): S3's PutObjectTagging,
# signed (SigV4) for the region and endpoint of rclone remote $4.
tag_object() {
    local bucket=$1 key=$2 tag_key=${3%%=*} tag_value=${3#*=} settings="RCLONE_CONFIG_${4^^}"
    local region_var="${settings}_REGION" endpoint_var="${settings}_ENDPOINT" region endpoint url body status
    [[ "$key" =~ ^[A-Za-z0-9._/-]+$ ]] || { log "retention: not tagging $key: unexpected characters in its name" >&2; return 1; }
    region=${!region_var:-us-east-1} endpoint=${!endpoint_var-}
    if [ -n "$endpoint" ]; then
        url="${endpoint%/}/$bucket/$key?tagging="
    else
        url="https://$bucket.s3.$region.amazonaws.com/$key?tagging="
    fi
    body="<Tagging><TagSet><Tag><Key>$tag_key</Key><Value>$tag_value</Value></Tag></TagSet></Tagging>"
    # PutObjectTagging requires an integrity header: Content-MD5.
    status=$(curl --silent --show-error --max-time 30 --output "$work/tagging.response" --write-out '%{http_code}' --config - <<CURL
url = "$url"
request = "PUT"
aws-sigv4 = "aws:amz:$region:s3"
user = "$s3_access_key:$s3_secret_key"
header = "x-amz-security-token: $s3_session_token"
header = "Content-Type: application/xml"
header = "Content-MD5: $(printf '%s' "$body" | openssl dgst -md5 -binary | base64)"
header = "x-amz-content-sha256: $(printf '%s' "$body" | sha256sum | cut -d' ' -f1)"
data-binary = "$body"
CURL
    ) || { log "retention: tagging $key failed (curl)" >&2; return 1; }
    [ "$status" = 200 ] || { log "retention: tagging $key failed: S3 answered $status: $(head -c 300 "$work/tagging.response")" >&2; return 1; }
}

# --- The Mattermost host -------------------------------------------------------------------------
# Where mattermost-backup and mattermost-restore find Mattermost's database and files, and how they
# reach them, as KEYs of the settings file. The defaults are Omnibus's (the bundled Mattermost); the
# settings file of a standalone Mattermost host names its own (components/backups/backupPlan.ts), so
# one copy of each tool serves both kinds of host.
#   PG_BIN, PG_RUN_AS, PG_HOST, PG_PORT, PG_USER  the PostgreSQL clients, the superuser's OS account
#                   they run as, and how they connect (PGHOST, PGPORT, PGUSER)
#   PG_ADMIN_PSQL   how an administrator runs psql as the superuser there (for printed commands)
#   MM_DB, MM_DB_OWNER, MM_HOME, MM_DATA_DIR, MM_CONFIG, MM_PLUGIN_DIR, MM_CLIENT_PLUGIN_DIR
#   MM_ETC_DIR, MM_ETC_FILES, MM_ETC_ARCHIVE  the host's secrets the deployment writes (names
#                   separated by spaces, in MM_ETC_DIR), and the archive of them a backup holds
#   MM_ETC_ADVICE   what an administrator does with the copy of them a restore extracts
#   MM_STOP_COMMAND, MM_START_COMMAND  how to stop and start Mattermost
# shellcheck disable=SC2034 # the sourcing tool reads them
load_mattermost_settings() {
    pg_bin=${PG_BIN:-/opt/gitlab/embedded/bin}
    pg_run_as=${PG_RUN_AS-gitlab-psql}
    export PGHOST=${PG_HOST:-/var/opt/gitlab/postgresql} PGPORT=${PG_PORT:-5432} PGUSER=${PG_USER:-gitlab-psql}
    pg_admin_psql=${PG_ADMIN_PSQL:-sudo gitlab-psql}
    mm_db=${MM_DB:-mattermost_production}
    mm_db_owner=${MM_DB_OWNER:-gitlab_mattermost}
    mm_home=${MM_HOME:-/var/opt/gitlab/mattermost}
    mm_data_dir=${MM_DATA_DIR:-$mm_home/data}
    mm_config=${MM_CONFIG:-$mm_home/config.json}
    mm_plugin_dir=${MM_PLUGIN_DIR:-$mm_home/plugins}
    mm_client_plugin_dir=${MM_CLIENT_PLUGIN_DIR:-$mm_home/client-plugins}
    # On Omnibus, Mattermost's secrets are in GitLab's settings.
    etc_dir=${MM_ETC_DIR:-${GITLAB_ETC_DIR:-/etc/gitlab}}
    read -r -a etc_files <<<"${MM_ETC_FILES:-gitlab-secrets.json gitlab.rb}"
    etc_archive=${MM_ETC_ARCHIVE:-gitlab-etc.tar.gz}
    [[ "$etc_archive" =~ ^[A-Za-z0-9][A-Za-z0-9._-]*\.tar\.gz$ ]] || fail "MM_ETC_ARCHIVE must be a file name ending in .tar.gz, got '$etc_archive'"
    etc_advice=${MM_ETC_ADVICE:-compare them with $etc_dir (the \"mattermost\" section of gitlab-secrets.json holds the at-rest key); copy what is needed by hand, then run: sudo gitlab-ctl reconfigure}
    stop_command=${MM_STOP_COMMAND:-/opt/gitlab/bin/gitlab-ctl stop mattermost}
    start_command=${MM_START_COMMAND:-/opt/gitlab/bin/gitlab-ctl start mattermost}
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
