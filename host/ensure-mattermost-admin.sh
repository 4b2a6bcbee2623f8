#!/usr/bin/env bash
# Makes sure Mattermost's first system administrator exists: a password account the program owns.
# On a Mattermost without it, it first takes team creation from every user's role, then creates the
# account and makes it system administrator. An existing account keeps everything, except that a
# password other than the one this step last set is set again. The password comes on stdin and
# travels to Mattermost only in request bodies on stdin: never on a command line.
# Talks to Mattermost in local mode, on its socket, so it works wherever Mattermost runs: through the
# installed mmctl wrapper (the bundle), or, given MMCTL_BINARY (a standalone host's release), through
# that mmctl run as the mattermost user in local mode.
# Once the account is system administrator it writes OPEN_FLAG: until that file exists, the Mattermost
# vhost refuses every request that could create an account, so nobody else becomes the first one.
# Usage: ensure-mattermost-admin.sh USERNAME EMAIL TIMEOUT_SECONDS OPEN_FLAG [MMCTL_BINARY]   (stdin: the password)
set -euo pipefail

log() { printf 'ensure-mattermost-admin: %s\n' "$*"; }
# shellcheck source-path=SCRIPTDIR source=lib/step-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/step-common.sh"

if [ "$#" -lt 4 ] || [ "$#" -gt 5 ] || [[ "$4" != /* ]]; then
    fail "usage: ensure-mattermost-admin.sh USERNAME EMAIL TIMEOUT_SECONDS /OPEN/FLAG [MMCTL_BINARY]"
fi
username=$1 email=$2 timeout=$3 open_flag=$4 mmctl_binary=${5:-}
socket=${MATTERMOST_LOCAL_SOCKET:-/var/tmp/mattermost_local.socket}
mmctl_wrapper=${MMCTL:-/usr/local/bin/mmctl}
mmctl() {
    if [ -n "$mmctl_binary" ]; then
        # Local mode's socket belongs to the user Mattermost runs as.
        runuser -u "${MATTERMOST_USER:-mattermost}" -- "$mmctl_binary" --local "$@"
    else
        "$mmctl_wrapper" "$@"
    fi
}
state_dir=${ADMIN_STATE_DIR:-/var/lib/gitlab-mattermost}
interval=${ADMIN_WAIT_INTERVAL_SECONDS:-5}
# Which password this step last set, as a SHA-256 digest, so a re-run with the same one changes nothing.
marker=$state_dir/mattermost-admin.sha256

response=""
remove_scratch() {
    rm -f "$response" "$marker.new" "$open_flag.new"
}
cleanup_steps+=(remove_scratch)

IFS= read -r password || true
# The request bodies are written with printf; a generated password never holds these.
if [ -z "$password" ] || [[ "$password" == *[\"\\[:cntrl:]]* ]]; then
    failure="the password on stdin is empty or holds a quote, backslash or control character"
    exit 2
fi

response=$(mktemp)
# api METHOD PATH: one local-mode request, its body (if any) read from stdin; prints the HTTP status.
api() {
    local data=()
    if [ "$1" != GET ]; then
        data=(-H 'Content-Type: application/json' --data-binary @-)
    fi
    curl --silent --show-error --max-time 30 --unix-socket "$socket" -X "$1" "${data[@]}" \
        --output "$response" --write-out '%{http_code}' "http://localhost/api/v4$2"
}

# Mattermost may be restarting (a plugin step, a restore): wait until local mode answers.
started=$(now_ms)
progress_start "Mattermost's local mode at $socket" "$timeout"
until status=$(api GET "/users/username/$username" 2>/dev/null) && { [ "$status" = 200 ] || [ "$status" = 404 ]; }; do
    if reached "$started" "$timeout"; then
        failure="Mattermost's local mode did not answer at $socket within ${timeout}s (is ServiceSettings.EnableLocalMode on?)"
        exit 1
    fi
    sleep "$interval"
done
progress_stop

digest=$(printf '%s' "$password" | sha256sum | cut -d' ' -f1)
user_id=""
if [ "$status" = 200 ]; then
    failure="reading $username's account: $(cat "$response")"
    if grep -q '"auth_service":"[^"]' "$response"; then
        failure="$username is an account that signs in through $(grep -o '"auth_service":"[^"]*"' "$response" | cut -d'"' -f4), not the program's password account; choose another gitlab-mattermost:mattermost.adminUsername"
        exit 1
    fi
    user_id=$(grep -o '"id":"[a-z0-9]*"' "$response" | head -n 1 | cut -d'"' -f4)
    if [ "$(cat "$marker" 2>/dev/null || true)" != "$digest" ]; then
        failure="setting $username's password"
        status=$(printf '{"new_password":"%s"}' "$password" | api PUT "/users/$user_id/password")
        if [ "$status" != 200 ]; then
            failure="Mattermost refused $username's new password (HTTP $status): $(cat "$response")"
            exit 1
        fi
        log "$username's password is the stack's mattermostAdminPassword again"
    fi
else
    # A fresh Mattermost: only system administrators create teams, before anyone else has an account.
    failure="taking create_team from system_user"
    mmctl permissions remove system_user create_team >/dev/null
    log "only system administrators create teams"
    failure="creating $username"
    status=$(printf '{"username":"%s","email":"%s","password":"%s"}' "$username" "$email" "$password" | api POST /users)
    if [ "$status" != 201 ]; then
        failure="Mattermost refused to create $username (HTTP $status): $(cat "$response")"
        exit 1
    fi
    failure="reading the created account: $(cat "$response")"
    user_id=$(grep -o '"id":"[a-z0-9]*"' "$response" | head -n 1 | cut -d'"' -f4)
    log "created $username"
fi

failure="making $username system administrator"
mmctl roles system-admin "$username" >/dev/null
failure="recording the password set in $marker"
mkdir -p "$state_dir"
(umask 077 && printf '%s\n' "$digest" >"$marker.new")
mv -f "$marker.new" "$marker"
# nginx's workers test the flag with stat(): its directory must be searchable by them.
failure="opening account creation: writing $open_flag"
install -d -m 0755 "$(dirname "$open_flag")"
printf '%s is system administrator\n' "$username" >"$open_flag.new"
chmod 0644 "$open_flag.new"
mv -f "$open_flag.new" "$open_flag"
log "$username (id ${user_id:-unknown}) is system administrator"
