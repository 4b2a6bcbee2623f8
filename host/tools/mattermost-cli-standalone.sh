#!/usr/bin/env bash
# mattermost-cli on a standalone Mattermost host (installed as /usr/local/bin/mattermost-cli): the
# Mattermost binary of the release /opt/mattermost links to, run the way its systemd unit runs the
# server: as the mattermost user, from the release directory, with the unit's environment file and
# config.json. systemd reads that file (root's, 0600, in EnvironmentFile= syntax) exactly as for the
# service, so the command sees the database, the at-rest key and every setting the server sees.
# Usage: sudo mattermost-cli <mattermost arguments>, e.g. sudo mattermost-cli version
set -euo pipefail

release=${MATTERMOST_RELEASE:-/opt/mattermost}
user=${MATTERMOST_USER:-mattermost}
environment=${MATTERMOST_ENVIRONMENT_FILE:-/etc/mattermost/mattermost.env}
config=${MATTERMOST_CONFIG:-/var/opt/mattermost/config/config.json}

# --pipe hands this terminal's stdin, stdout and stderr to the command; --wait returns its status.
exec systemd-run --quiet --pipe --wait --collect --service-type=exec \
    --uid="$user" --gid="$user" --working-directory="$release" \
    --property=EnvironmentFile="$environment" \
    -- "$release/bin/mattermost" --config "$config" "$@"
