#!/usr/bin/env bash
# Makes GitLab hold exactly the OAuth application described by the JSON on stdin
# ({"name","uid","secret","redirect_uri","scopes"}), and revokes other applications of that name.
# Usage: ensure-oauth-application.sh RUBY_PROGRAM
# The secret travels only on stdin; the Ruby program is not secret.
set -euo pipefail

omnibus=${OMNIBUS_DIR:-/opt/gitlab}
exec "$omnibus/bin/gitlab-rails" runner -e production "$1"
