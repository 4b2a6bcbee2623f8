#!/usr/bin/env bash
# Checks the GitLab host's gitlab.rb against a later GitLab release line, changing nothing: after the
# bundled Mattermost has moved out, the file must be ready for the line that no longer bundles it.
# Usage: check-gitlab-config.sh MAJOR.MINOR
set -euo pipefail

log() { printf 'check-gitlab-config: %s\n' "$*"; }
# shellcheck source-path=SCRIPTDIR source=../lib/step-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/step-common.sh"

line=${1:?usage: check-gitlab-config.sh MAJOR.MINOR}
[[ "$line" =~ ^[0-9]+\.[0-9]+$ ]] || fail "the release line must be MAJOR.MINOR, got $line"
failure="gitlab-ctl check-config --version=$line failed: /etc/gitlab/gitlab.rb sets what GitLab $line refuses (named above). Remove those settings, then run pulumi up again"
gitlab-ctl check-config --version="$line"
log "gitlab.rb is ready for GitLab $line"
