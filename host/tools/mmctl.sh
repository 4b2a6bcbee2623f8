#!/usr/bin/env bash
# mmctl: the bundled mmctl in local mode, as the mattermost user, whose socket local mode listens on.
# No login or token is needed. Usage: sudo mmctl <mmctl arguments>, e.g. sudo mmctl user list
set -euo pipefail

omnibus=${OMNIBUS_DIR:-/opt/gitlab}
user=${MATTERMOST_USER:-mattermost}

exec "$omnibus/embedded/bin/chpst" -u "$user:$user" "$omnibus/embedded/bin/mmctl" --local "$@"
