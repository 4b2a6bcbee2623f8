#!/usr/bin/env bash
# mattermost-cli: the bundled Mattermost binary, run the way Omnibus runs the service: as the
# mattermost user, with Omnibus's environment directory, from Mattermost's install directory.
# Usage: sudo mattermost-cli <mattermost arguments>, e.g. sudo mattermost-cli version
set -euo pipefail

omnibus=${OMNIBUS_DIR:-/opt/gitlab}
user=${MATTERMOST_USER:-mattermost}
config=${MATTERMOST_CONFIG:-/var/opt/gitlab/mattermost/config.json}

cd "$omnibus/embedded/service/mattermost"
exec "$omnibus/embedded/bin/chpst" -e "$omnibus/etc/mattermost/env" -P -U "$user:$user" -u "$user:$user" \
    "$omnibus/embedded/bin/mattermost" --config "$config" "$@"
