#!/usr/bin/env bash
# Upgrades GitLab Omnibus in place along a path the program computed (components/upgradePath.ts): one
# version after the other, each checked against gitlab.rb before it is installed, and each given time
# to finish its batched background migrations before the next. Backups are a separate, earlier step.
# Usage: upgrade-gitlab.sh EDITION MIGRATION_WAIT [STEP...]
#   EDITION         ee or ce: the package the walk installs (gitlab-ee or gitlab-ce)
#   MIGRATION_WAIT  seconds to wait for background migrations after each version, or `none` on a host
#                   without GitLab's database (the split topology's Mattermost host)
#   STEP...         x.y.z, oldest first; the last one is the target. `postgresql-N` before a version
#                   upgrades GitLab's PostgreSQL to major N (gitlab-ctl pg-upgrade -V N) first, because
#                   that package refuses to install on an older one; it is skipped when the database
#                   already runs N or newer, or when the version after it is already installed.
# The repository of EDITION must be configured (install-omnibus.sh does it).
# dpkg, not the program's state, says what is installed: versions at or below it are skipped, so a
# re-run after a failure resumes where the walk stopped. Whenever the script stops, the package is held,
# so unattended upgrades cannot jump a required stop. With gitlab-ce installed and EDITION ee, the first
# version must be the installed one: installing gitlab-ee of the same version is GitLab's conversion.
# A dpkg run that was killed is resumed (`dpkg --configure -a`) before anything else. Omnibus's own
# database backup before each package is skipped: the program's full backups run before the walk.
set -euo pipefail

log() { printf 'upgrade-gitlab: %s\n' "$*"; }
# shellcheck source-path=SCRIPTDIR source=lib/step-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/step-common.sh"
# shellcheck source-path=SCRIPTDIR source=lib/packages.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/packages.sh"
usage() {
    log "usage: upgrade-gitlab.sh ee|ce SECONDS|none [x.y.z|postgresql-N ...], versions oldest first" >&2
    failure=$1
    exit 2
}

[ "$#" -ge 2 ] || usage "expected an edition and a migration wait"
edition=$1 migration_wait=$2
shift 2
steps=("$@")
case "$edition" in
ee) other_edition=ce ;;
ce) other_edition=ee ;;
*) usage "unknown edition: $edition" ;;
esac
if [ "$migration_wait" != none ] && ! [[ "$migration_wait" =~ ^(0|[1-9][0-9]*)$ ]]; then
    usage "the migration wait must be a whole number of seconds or none, got: $migration_wait"
fi
package="gitlab-${edition}"
other_package="gitlab-${other_edition}"
poll_seconds=${MIGRATION_POLL_SECONDS:-30}
service_wait=${SERVICE_WAIT_SECONDS:-900}
# Omnibus's preinst backs up the database (and /etc/gitlab) before each package unless this file
# exists, and with backup_upload_connection set uploads that partial archive beside the full backups.
skip_backup_file=${GITLAB_ETC_DIR:-/etc/gitlab}/skip-auto-backup

# Whether x.y.z version $1 is older than $2.
older() {
    local -a a b
    local i
    IFS=. read -r -a a <<<"$1"
    IFS=. read -r -a b <<<"$2"
    for i in 0 1 2; do
        if ((a[i] != b[i])); then
            ((a[i] < b[i])) && return 0
            return 1
        fi
    done
    return 1
}

version_pattern='^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$'
postgresql_pattern='^postgresql-([1-9][0-9]*)$'
previous_step=""
for index in "${!steps[@]}"; do
    step=${steps[index]}
    if [[ "$step" =~ $postgresql_pattern ]]; then
        next=${steps[index + 1]:-}
        [[ "$next" =~ $version_pattern ]] || usage "$step must be followed by the version that needs it"
        continue
    fi
    [[ "$step" =~ $version_pattern ]] || usage "not a version x.y.z: $step"
    if [ -n "$previous_step" ] && ! older "$previous_step" "$step"; then
        usage "versions must be given oldest first, each newer than the one before: $previous_step, then $step"
    fi
    previous_step=$step
done

# The package stays held whenever the script stops; on success each install has already held it.
# Whatever ends the script (an error, a signal, a lost connection) leads here.
holds=()
skip_backup_created=""
hold_again() {
    if [ "${#holds[@]}" -gt 0 ]; then
        apt-mark hold "${holds[@]}" >/dev/null || log "could not hold ${holds[*]}; hold it with: apt-mark hold ${holds[*]}" >&2
        [ -n "$failure" ] || failure="stopped before the walk finished; run the upgrade again: it resumes from the version dpkg reports"
    fi
}
remove_skip_backup() {
    if [ -n "$skip_backup_created" ]; then
        rm -f "$skip_backup_file"
    fi
}
rollback_steps+=(hold_again)
cleanup_steps+=(remove_skip_backup)

resume_interrupted_dpkg

# Sets state (installed, partial or absent) and version (x.y.z) for package $1, as dpkg reports it.
# `partial` is a package unpacked or half-configured by an interrupted or failed install: its version's
# step is not done. The first status letter is the selection (i, or h when held) and does not matter.
read_package() {
    local answer
    answer=$(dpkg-query -W -f='${db:Status-Abbrev}|${Version}' "$1" 2>/dev/null || true)
    version=${answer#*|}
    version=${version%%-*}
    case "$answer" in
    ?i*) state=installed ;;
    ?[HUFWt]*) state=partial ;;
    *) state=absent version="" ;;
    esac
    if [ "$state" != absent ] && ! [[ "$version" =~ $version_pattern ]]; then
        fail "dpkg reports $1 with an unexpected version: $answer"
    fi
}

# installed_version is what the walk's package has reached (empty before a conversion); start_version
# is what GitLab runs when the walk starts, in either edition; `here` names what runs, for messages.
read_package "$package"
installed_state=$state installed_version=$version start_version=$version
replacing=""
if [ "$installed_state" = absent ]; then
    read_package "$other_package"
    if [ "$state" = absent ]; then
        fail "neither $package nor $other_package is installed; install GitLab first"
    fi
    if [ "$edition" = ce ]; then
        fail "$other_package $version is installed; GitLab's package cannot switch from EE to CE in place"
    fi
    if [ "${#steps[@]}" -eq 0 ] || [ "${steps[0]}" != "$version" ]; then
        fail "$other_package $version is installed: converting to $package installs $package $version first; give $version as the first version"
    fi
    replacing=$other_package start_version=$version
    here="$other_package $version"
else
    here="$package $installed_version"
fi

holds=("$package" ${replacing:+"$replacing"})

pending=()
# A PostgreSQL step is pending only with the version after it.
postgresql_step=""
for step in "${steps[@]}"; do
    if [[ "$step" =~ $postgresql_pattern ]]; then
        postgresql_step=$step
        continue
    fi
    if [ -n "$installed_version" ] && older "$step" "$installed_version"; then
        postgresql_step=""
        continue
    fi
    if [ "$step" = "$installed_version" ] && [ "$installed_state" = installed ]; then
        postgresql_step=""
        continue
    fi
    pending+=(${postgresql_step:+"$postgresql_step"} "$step")
    postgresql_step=""
done
if [ "${#steps[@]}" -gt 0 ] && [ -n "$installed_version" ] && older "${steps[-1]}" "$installed_version"; then
    fail "$here is installed, newer than the target ${steps[-1]}; GitLab cannot be downgraded in place"
fi
if [ "${#pending[@]}" -eq 0 ]; then
    apt-mark hold "${holds[@]}" >/dev/null
    log "$here is installed and held; nothing to upgrade"
    exit 0
fi
log "starting from $here; installing in turn: ${pending[*]}"

# Batched background migrations that have not finished (3 is finished, 6 finalized), and how many of
# those failed (4): the status codes of GitLab's batched_background_migrations table, the query GitLab's
# upgrade documentation gives for the Linux package. One psql query answers in milliseconds on every
# 17.x and 18.x; the rake tasks were renamed between releases, and a Rails runner takes a minute per poll.
migration_query='SELECT count(*), count(*) FILTER (WHERE status = 4) FROM batched_background_migrations WHERE status NOT IN (3, 6)'

# Waits until the batched background migrations are finished; GitLab $1 is what is installed now.
wait_for_migrations() {
    local at=$1 started answer progress
    started=$(now_ms)
    if [ "$migration_wait" = none ]; then
        return 0
    fi
    local resume="Watch them in the Admin area (Monitoring > Background migrations); once they have finished, run the upgrade again: it resumes after $at."
    while :; do
        if answer=$(gitlab-psql -At -c "$migration_query" 2>&1) && [[ "$answer" =~ ^([0-9]+)\|([0-9]+)$ ]]; then
            if [ "${BASH_REMATCH[1]}" -eq 0 ]; then
                log "$at: background migrations have finished"
                return 0
            fi
            if [ "${BASH_REMATCH[2]}" -gt 0 ]; then
                fail "$at: ${BASH_REMATCH[2]} batched background migrations failed, so waiting cannot help. GitLab $at is installed and held. Retry them in the Admin area (Monitoring > Background migrations); once they have finished, run the upgrade again: it resumes after $at."
            fi
            progress="${BASH_REMATCH[1]} batched background migrations unfinished"
        else
            progress="the migration status cannot be read yet (${answer//$'\n'/ })"
        fi
        if reached "$started" "$migration_wait"; then
            fail "$at: background migrations did not finish within ${migration_wait}s ($progress). GitLab $at is installed and held. $resume"
        fi
        log "$at: $progress; waited $(seconds_since "$started")s of ${migration_wait}s"
        sleep "$poll_seconds"
    done
}

# Each stop must be up before the next is installed: every Omnibus service running (`gitlab-ctl
# status` fails while any is down). The HTTP health gates run once the whole walk is done.
wait_for_services() {
    local at=$1 started
    started=$(now_ms)
    until gitlab-ctl status >/dev/null 2>&1; do
        if reached "$started" "$service_wait"; then
            gitlab-ctl status >&2 || true
            fail "$at: not every GitLab service is running after ${service_wait}s (gitlab-ctl status above). GitLab $at is installed and held; fix the service, then run the upgrade again: it resumes after $at."
        fi
        log "$at: waiting for every service to run"
        sleep "$poll_seconds"
    done
    log "$at: every service is running"
}

# Upgrades GitLab's PostgreSQL to major $1 unless it already runs that or newer. pg-upgrade stops the
# database, converts it and starts everything again; when it fails it puts the old cluster back itself
# (omnibus doc/settings/database.md), so a re-run starts it over.
upgrade_postgresql() {
    local major=$1 answer
    if ! answer=$(gitlab-psql -At -c 'SHOW server_version_num' 2>&1) || ! [[ "$answer" =~ ^[0-9]+$ ]]; then
        fail "cannot read GitLab's PostgreSQL version before upgrading it to $major (gitlab-psql said: ${answer//$'\n'/ }). $here stays installed and held; start GitLab's database (gitlab-ctl start postgresql), then run the upgrade again."
    fi
    if ((answer / 10000 >= major)); then
        log "GitLab's PostgreSQL already runs $((answer / 10000)), at least $major"
        return 0
    fi
    log "upgrading GitLab's PostgreSQL from $((answer / 10000)) to $major (gitlab-ctl pg-upgrade -V $major): the next package needs it"
    if ! gitlab-ctl pg-upgrade -V "$major"; then
        fail "gitlab-ctl pg-upgrade -V $major failed (its output is above). $here stays installed and held on its old PostgreSQL; fix the cause (often disk space: the upgrade copies the database), then run the upgrade again: it resumes with the PostgreSQL upgrade."
    fi
    log "GitLab's PostgreSQL runs $major"
    wait_for_services "PostgreSQL $major"
}

# Migrations left by an earlier upgrade must finish before the next version is installed.
wait_for_migrations "$start_version"
apt-get "${apt_options[@]}" update -q
# The file says who made it, so one left by a killed walk is removed by the next, while one the
# administrator made stays.
skip_backup_mark="created by upgrade-gitlab.sh for the duration of an upgrade walk"
if [ ! -e "$skip_backup_file" ] || [ "$(cat "$skip_backup_file")" = "$skip_backup_mark" ]; then
    skip_backup_created=yes
    printf '%s\n' "$skip_backup_mark" >"$skip_backup_file"
fi

for step in "${pending[@]}"; do
    if [[ "$step" =~ $postgresql_pattern ]]; then
        upgrade_postgresql "${BASH_REMATCH[1]}"
        continue
    fi
    line=${step%.*}
    log "checking gitlab.rb against GitLab $line"
    if ! gitlab-ctl check-config --version="$line"; then
        fail "gitlab-ctl check-config --version=$line failed: gitlab.rb has settings GitLab $line refuses (named above). Nothing was installed for $step; $here stays installed and held. Correct the settings, then run the upgrade again: it resumes at $step."
    fi
    apt-mark unhold "$package" ${replacing:+"$replacing"} >/dev/null
    # The package's own reconfigure is the only one.
    if ! "${package_env[@]}" apt-get "${apt_options[@]}" install -y -q "${package}=${step}-${edition}.0"; then
        fail "installing $package $step failed (apt-get's output is above). The package is held again; run the upgrade again once the cause is fixed: it resumes from the version dpkg reports."
    fi
    replacing="" holds=("$package")
    apt-mark hold "$package" >/dev/null
    here="$package $step"
    log "installed and held $here"
    # The package's reconfigure wrote smtp_settings.rb world-readable again.
    protect_rendered_secrets
    wait_for_services "$step"
    wait_for_migrations "$step"
done
log "done: $here is installed and held"
