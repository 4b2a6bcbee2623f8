#!/usr/bin/env bash
# mmctl on a standalone Mattermost host (installed as /usr/local/bin/mmctl): the mmctl of the release
# /opt/mattermost links to, in local mode, as the mattermost user, whose socket
# (/var/tmp/mattermost_local.socket) local mode listens on. No login or token is needed.
# Usage: sudo mmctl <mmctl arguments>, e.g. sudo mmctl user list
set -euo pipefail

release=${MATTERMOST_RELEASE:-/opt/mattermost}
user=${MATTERMOST_USER:-mattermost}

exec runuser -u "$user" -- "$release/bin/mmctl" --local "$@"
