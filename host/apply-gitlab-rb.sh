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
trap 'progress_stop; rm -f "$staged" "$staged.previous"' EXIT
fail_on_signals
cat >"$staged"
if [ ! -s "$staged" ]; then
    log "refusing an empty gitlab.rb" >&2
    exit 1
fi
if ! "$omnibus/embedded/bin/ruby" -c "$staged" >/dev/null; then
    log "the new gitlab.rb does not parse; $target is unchanged" >&2
    exit 1
fi
chown 0:0 "$staged"
chmod 0600 "$staged"

if [ -e "$target" ] && ! cmp -s "$staged" "$target"; then
    cp -p "$target" "$staged.previous"
    mv -f "$staged.previous" "$previous"
fi
mv -f "$staged" "$target"
log "installed $target"

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
if [ -e "$previous" ]; then
    log "to go back: cp -p $previous $target && gitlab-ctl reconfigure" >&2
fi
exit 1
