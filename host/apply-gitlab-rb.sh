#!/usr/bin/env bash
# Installs the gitlab.rb read from stdin and runs `gitlab-ctl reconfigure`.
# The file is staged beside the target, syntax-checked with Omnibus's embedded Ruby and only then
# renamed into place; the copy it replaces is kept as gitlab.rb.previous. Re-running is safe.
# Reconfigure's output goes to a log file; a progress line every 30 seconds says it is still running.
set -euo pipefail

gitlab_etc=${GITLAB_ETC_DIR:-/etc/gitlab}
omnibus=${OMNIBUS_DIR:-/opt/gitlab}
log_dir=${GITLAB_MATTERMOST_LOG_DIR:-/var/log/gitlab-mattermost}
target="$gitlab_etc/gitlab.rb"
previous="$gitlab_etc/gitlab.rb.previous"

log() { printf 'apply-gitlab-rb: %s\n' "$*"; }
# shellcheck source-path=SCRIPTDIR source=lib/step-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/step-common.sh"

umask 077
staged=$(mktemp "$gitlab_etc/.gitlab.rb.XXXXXX")
# shellcheck disable=SC2317 # end_step runs it
remove_staged() { rm -f "$staged" "$staged.previous"; }
cleanup_steps+=(remove_staged)
cat >"$staged"
if [ ! -s "$staged" ]; then
    fail "refusing an empty gitlab.rb; $target is unchanged"
fi
if ! "$omnibus/embedded/bin/ruby" -c "$staged" >/dev/null; then
    fail "the new gitlab.rb does not parse; $target is unchanged"
fi
chown 0:0 "$staged"
chmod 0600 "$staged"

if [ -e "$target" ] && ! cmp -s "$staged" "$target"; then
    cp -p "$target" "$staged.previous"
    mv -f "$staged.previous" "$previous"
fi
mv -f "$staged" "$target"
log "installed $target"
# A failure from here on (a failed or interrupted reconfigure) leaves the new file in place: a re-run
# applies it again; the hint says how to go back instead.
# shellcheck disable=SC2317 # end_step runs it
tell_how_to_go_back() { log "to go back: cp -p $previous $target && gitlab-ctl reconfigure" >&2; }
if [ -e "$previous" ]; then
    rollback_steps+=(tell_how_to_go_back)
fi

install -d -m 0700 "$log_dir"
reconfigure_log="$log_dir/reconfigure.log"
# Reconfigure is idempotent; one retry rides out transient failures such as a slow database start.
for attempt in 1 2; do
    progress_start "gitlab-ctl reconfigure (attempt $attempt, output in $reconfigure_log)"
    if "$omnibus/bin/gitlab-ctl" reconfigure >"$reconfigure_log" 2>&1; then
        progress_stop
        protect_rendered_secrets
        log "reconfigured (attempt $attempt)"
        exit 0
    fi
    progress_stop
    log "gitlab-ctl reconfigure failed (attempt $attempt)" >&2
done
log "last lines of $reconfigure_log:" >&2
tail -n 40 "$reconfigure_log" >&2
fail "gitlab-ctl reconfigure failed twice (the last lines of its log are above)"
