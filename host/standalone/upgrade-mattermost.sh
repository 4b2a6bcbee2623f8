#!/usr/bin/env bash
# Moves a standalone Mattermost to the release VERSION, which install-mattermost.sh has unpacked beside
# the one in use: backs up first (the `mattermost-backup` tool), switches the /opt/mattermost link in
# one rename, restarts Mattermost and waits for its ping. If Mattermost does not answer within
# WAIT_SECONDS, or the run is interrupted after the switch, the link goes back to the previous
# release and Mattermost is restarted on it, and the run says FAILED.
# A replaced instance whose data volume another release ran on has no link yet (install-mattermost.sh
# leaves it): this backs the volume up and then links VERSION; a failure takes the link away again.
# Its environment file comes with the settings step after this one, so the backup holds no copy of
# it, and that step, not this one, starts Mattermost.
# Either way the data volume records the release that runs on it (.gitlab-mattermost-release).
# A release starts by migrating the database, and migrations are not undone by the switch back; when
# the previous release cannot run on the migrated database, restore the backup this run made.
# Usage: upgrade-mattermost.sh VERSION EDITION [WAIT_SECONDS]
# Re-running is safe: a host already on VERSION is left as it is. Downgrades are refused.
# MATTERMOST_HOST_ROOT (tests only) puts every path below another directory.
set -Eeuo pipefail
log() { printf 'upgrade-mattermost: %s\n' "$*"; }
# Traps and fail, shared with the other host scripts: rollback_steps run after a failure, whatever
# ended the run, cleanup_steps after every run.
# shellcheck source-path=SCRIPTDIR source=../lib/step-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/step-common.sh"

switched=no
previous=""
staged_link=""
staged_record=""
undo() {
    [ "$switched" = yes ] || return 0
    if [ -z "$previous" ]; then
        if rm -f "$link" && systemctl stop mattermost.service; then
            log "took the link to $name away again and stopped Mattermost" >&2
        else
            log "could not take $link away: remove it by hand and stop mattermost" >&2
        fi
    elif switch_to "$previous" && systemctl restart mattermost.service; then
        log "switched back to $previous and restarted Mattermost" >&2
    else
        log "could not switch back to $previous: do it by hand (ln -sfn $previous $link) and restart mattermost" >&2
    fi
    log "if ${previous:-the previous release} does not start on the migrated database, restore the backup made before this upgrade (mattermost-restore)" >&2
}
rollback_steps+=(undo)
clean_up() {
    [ -z "$staged_link" ] || rm -f "$staged_link"
    [ -z "$staged_record" ] || rm -f "$staged_record"
}
cleanup_steps+=(clean_up)

if [ "$#" -lt 2 ] || [ "$#" -gt 3 ]; then
    fail "usage: upgrade-mattermost.sh VERSION enterprise|team [WAIT_SECONDS]"
fi
version=$1 edition=$2 wait_seconds=${3:-900}
[[ "$version" =~ ^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$ ]] || fail "not a version x.y.z: $version"
case "$edition" in
enterprise) name="mattermost-$version" ;;
team) name="mattermost-team-$version" ;;
*) fail "unknown edition: $edition (enterprise or team)" ;;
esac
[[ "$wait_seconds" =~ ^[1-9][0-9]*$ ]] || fail "WAIT_SECONDS must be a positive whole number, got: $wait_seconds"
root=${MATTERMOST_HOST_ROOT:-}
opt="$root/opt"
link="$opt/mattermost"
release_record="$root/var/opt/mattermost/.gitlab-mattermost-release"
environment_file="$root/etc/mattermost/mattermost.env"
poll_seconds=${PING_POLL_SECONDS:-5}
ping_url=http://127.0.0.1:8065/api/v4/system/ping

# Points the link at release directory name $1, in one rename.
switch_to() {
    staged_link="$opt/.mattermost.link.$$"
    ln -sfn "$1" "$staged_link"
    mv -T "$staged_link" "$link"
    staged_link=""
}

# The x.y.z in a release directory name.
version_of() {
    local base=${1##*-}
    printf '%s\n' "$base"
}

# Records on the data volume the release that runs on it, in one rename.
record_release() {
    staged_record=$(mktemp "$release_record.XXXXXX")
    printf '%s\n' "$name" >"$staged_record"
    chmod 0644 "$staged_record"
    mv -f "$staged_record" "$release_record"
    staged_record=""
}

replaced_instance=no
if [ -L "$link" ]; then
    previous=$(readlink "$link")
    last=$previous
    if [ "$previous" = "$name" ]; then
        record_release
        log "Mattermost already runs $name"
        exit 0
    fi
else
    [ ! -e "$link" ] || fail "$link is not a release link; move it away and run install-mattermost.sh"
    last=$(cat "$release_record" 2>/dev/null || true)
    replaced_instance=yes
fi
[ -x "$opt/$name/bin/mattermost" ] || fail "$opt/$name is not unpacked; run install-mattermost.sh $version $edition <sha256> first"
if [ -n "$last" ] && dpkg --compare-versions "$version" lt "$(version_of "$last")"; then
    fail "$name is older than $last: Mattermost does not support downgrades"
fi

log "backing up before the upgrade from ${last:-the release the data volume does not record} to $name"
BACKUP_ETC_MAY_BE_ABSENT=$replaced_instance mattermost-backup || fail "the backup before the upgrade failed; nothing was changed"

switch_to "$name"
switched=yes
if [ "$replaced_instance" = yes ] && [ ! -e "$environment_file" ]; then
    switched=no
    record_release
    log "$link now runs $name; Mattermost starts once the settings step has installed $environment_file"
    exit 0
fi
log "$link now runs $name; restarting Mattermost"
systemctl restart mattermost.service
deadline=$((SECONDS + wait_seconds))
until curl -fsS --max-time 10 -o /dev/null "$ping_url"; do
    [ "$SECONDS" -lt "$deadline" ] || fail "Mattermost $version did not answer $ping_url within ${wait_seconds}s"
    sleep "$poll_seconds"
done
switched=no
record_release
log "Mattermost runs $name"
