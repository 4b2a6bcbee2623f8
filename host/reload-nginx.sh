#!/usr/bin/env bash
# Makes nginx re-read its certificates without a reconfigure: a new certificate file is picked up
# by a HUP; nginx keeps serving with the old one until then.
set -euo pipefail

log() { printf 'reload-nginx: %s\n' "$*"; }
# shellcheck source-path=SCRIPTDIR source=lib/step-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/step-common.sh"

omnibus=${OMNIBUS_DIR:-/opt/gitlab}
"$omnibus/bin/gitlab-ctl" hup nginx
log "nginx reloaded"
