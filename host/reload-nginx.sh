#!/usr/bin/env bash
# Makes nginx re-read its certificates without a reconfigure: a new certificate file is picked up
# by a HUP; nginx keeps serving with the old one until then.
set -euo pipefail

omnibus=${OMNIBUS_DIR:-/opt/gitlab}
"$omnibus/bin/gitlab-ctl" hup nginx
printf 'reload-nginx: nginx reloaded\n'
