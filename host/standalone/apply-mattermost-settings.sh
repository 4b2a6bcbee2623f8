#!/usr/bin/env bash
# Installs one of the standalone Mattermost host's configuration files, read from stdin, and makes the
# service use it, only when it changed:
#   environment  /etc/mattermost/mattermost.env (0600, root; secrets): restarts Mattermost
#   unit         /etc/systemd/system/mattermost.service: reloads systemd, enables and restarts Mattermost
#   nginx-http   /etc/nginx/conf.d/mattermost-http.conf: `nginx -t`, then reloads nginx
#   nginx-https  /etc/nginx/conf.d/mattermost-https.conf: likewise
#   trusted-ca   /usr/local/share/ca-certificates/gitlab-mattermost-ca.crt, the stack's private CA:
#                updates the system's trust store, then restarts Mattermost (Go reads it at start),
#                so Mattermost's calls to GitLab trust GitLab's certificate
# The new file is written beside the old one, checked, and renamed over it; the old one is kept until
# the service has taken the new one (Mattermost answers its ping within WAIT_SECONDS, or nginx -t
# passes). If not, or if the run is interrupted, the old file is put back and the service restarted
# on it, and the run says FAILED.
# Mattermost is (re)started only once the release link, the unit and the environment file all exist.
# Usage: apply-mattermost-settings.sh environment|unit|nginx-http|nginx-https|trusted-ca [WAIT_SECONDS] < file
# MATTERMOST_HOST_ROOT (tests only) puts every path below another directory.
set -Eeuo pipefail
log() { printf 'apply-mattermost-settings: %s\n' "$*"; }
# Traps and fail, shared with the other host scripts: rollback_steps run after a failure, whatever
# ended the run, cleanup_steps after every run.
# shellcheck source-path=SCRIPTDIR source=../lib/step-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/step-common.sh"

staged=""
previous=""
had_previous=no
installed=no
undo() {
    [ "$installed" = yes ] || return 0
    if [ "$had_previous" = yes ]; then
        mv -f "$previous" "$target"
        log "put the previous $target back" >&2
    else
        rm -f "$target"
        log "removed the new $target" >&2
    fi
    activate || log "the service did not take the previous file either; see journalctl -u $service" >&2
}
rollback_steps+=(undo)
clean_up() {
    rm -f "$staged" "$previous"
}
cleanup_steps+=(clean_up)

if [ "$#" -lt 1 ] || [ "$#" -gt 2 ]; then
    fail "usage: apply-mattermost-settings.sh environment|unit|nginx-http|nginx-https|trusted-ca [WAIT_SECONDS] < file"
fi
kind=$1 wait_seconds=${2:-900}
[[ "$wait_seconds" =~ ^[1-9][0-9]*$ ]] || fail "WAIT_SECONDS must be a positive whole number, got: $wait_seconds"
root=${MATTERMOST_HOST_ROOT:-}
poll_seconds=${PING_POLL_SECONDS:-5}
ping_url=http://127.0.0.1:8065/api/v4/system/ping
release_link="$root/opt/mattermost"
unit_file="$root/etc/systemd/system/mattermost.service"
environment_file="$root/etc/mattermost/mattermost.env"
case "$kind" in
environment) target=$environment_file mode=0600 service=mattermost ;;
unit) target=$unit_file mode=0644 service=mattermost ;;
nginx-http) target="$root/etc/nginx/conf.d/mattermost-http.conf" mode=0644 service=nginx ;;
nginx-https) target="$root/etc/nginx/conf.d/mattermost-https.conf" mode=0644 service=nginx ;;
trusted-ca) target="$root/usr/local/share/ca-certificates/gitlab-mattermost-ca.crt" mode=0644 service=mattermost ;;
*) fail "unknown file kind: $kind" ;;
esac

# Whether Mattermost answers its ping within the wait.
wait_for_ping() {
    local deadline=$((SECONDS + wait_seconds))
    until curl -fsS --max-time 10 -o /dev/null "$ping_url"; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep "$poll_seconds"
    done
}

# Makes the service use the file now in place; fails when it does not take it.
activate() {
    case "$service" in
    mattermost)
        [ "$kind" != unit ] || systemctl daemon-reload
        [ "$kind" != trusted-ca ] || update-ca-certificates
        if [ -L "$release_link" ] && [ -e "$unit_file" ] && [ -e "$environment_file" ]; then
            systemctl enable mattermost.service
            systemctl restart mattermost.service
            wait_for_ping || { failure="Mattermost did not answer $ping_url within ${wait_seconds}s"; return 1; }
            log "Mattermost answers on its new $kind"
        else
            log "Mattermost starts once its release, unit and environment file are all installed"
        fi
        ;;
    nginx)
        nginx -t -q || { failure="nginx -t rejects the configuration"; return 1; }
        systemctl reload-or-restart nginx.service
        log "nginx reloaded"
        ;;
    esac
}

directory=$(dirname "$target")
install -d -m 0755 "$directory"
umask 077
staged=$(mktemp "$directory/.$(basename "$target").XXXXXX")
cat >"$staged"
[ -s "$staged" ] || fail "refusing an empty $kind file"
case "$kind" in
environment)
    for required in MM_SQLSETTINGS_DATASOURCE MM_SERVICESETTINGS_SITEURL; do
        grep -q "^$required=" "$staged" || fail "the environment file has no $required line"
    done
    ;;
unit)
    grep -q '^ExecStart=' "$staged" || fail "the unit has no ExecStart="
    ;;
nginx-*)
    grep -q '^server {' "$staged" || fail "the nginx file has no server block"
    ;;
trusted-ca)
    openssl x509 -noout -in "$staged" || fail "the trusted CA is not a PEM certificate"
    ;;
esac
chown 0:0 "$staged"
chmod "$mode" "$staged"
if [ -e "$target" ] && cmp -s "$staged" "$target"; then
    log "$target is unchanged"
    exit 0
fi

if [ -e "$target" ]; then
    previous=$(mktemp "$directory/.$(basename "$target").previous.XXXXXX")
    cp -p "$target" "$previous"
    had_previous=yes
fi
mv -f "$staged" "$target"
installed=yes
log "installed $target"
activate
installed=no
