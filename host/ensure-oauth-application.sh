#!/usr/bin/env bash
# Makes GitLab hold exactly the OAuth application described by the JSON on stdin
# ({"name","uid","secret","redirect_uri","scopes"}), and revokes other applications of that name
# unless the JSON says "revoke_others": false.
# Usage: ensure-oauth-application.sh RUBY_PROGRAM [--if-running]
#   --if-running: do nothing while GitLab's database does not answer yet (a host before its first
#                 reconfigure), instead of failing.
# The secret travels only on stdin; the Ruby program is not secret.
set -euo pipefail

omnibus=${OMNIBUS_DIR:-/opt/gitlab}
if [ "${2:-}" = --if-running ] && ! "$omnibus/bin/gitlab-psql" -d gitlabhq_production -Atc 'SELECT 1' >/dev/null 2>&1; then
    printf 'ensure-oauth-application: GitLab is not running yet; the application is registered after its first reconfigure\n'
    exit 0
fi
exec "$omnibus/bin/gitlab-rails" runner -e production "$1"
