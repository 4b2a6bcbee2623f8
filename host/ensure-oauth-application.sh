#!/usr/bin/env bash
# Makes GitLab hold exactly the OAuth application described by the JSON on stdin
# ({"name","uid","secret","redirect_uri","scopes"}), and revokes other applications of that name
# unless the JSON says "revoke_others": false.
# Usage: ensure-oauth-application.sh RUBY_PROGRAM [--if-running]
#   --if-running: do nothing while GitLab's database does not answer yet (a host before its first
#                 reconfigure), instead of failing.
# The secret travels only on stdin; the Ruby program is not secret.
# The Ruby program saves the wanted application before it revokes others: a run ended at any point
# leaves the wanted application saved or not yet, the others revoked or not yet; a re-run completes it.
set -euo pipefail

log() { printf 'ensure-oauth-application: %s\n' "$*"; }
# shellcheck source-path=SCRIPTDIR source=lib/step-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/step-common.sh"

omnibus=${OMNIBUS_DIR:-/opt/gitlab}
if [ "${2:-}" = --if-running ] && ! "$omnibus/bin/gitlab-psql" -d gitlabhq_production -Atc 'SELECT 1' >/dev/null 2>&1; then
    log "GitLab is not running yet; the application is registered after its first reconfigure"
    exit 0
fi
# Not exec'd: this shell stays to say FAILED when the runner fails or a signal ends the step.
"$omnibus/bin/gitlab-rails" runner -e production "$1"
