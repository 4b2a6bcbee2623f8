# shellcheck shell=bash
# Shared by the host scripts that install packages (install-omnibus.sh, upgrade-gitlab.sh,
# enable-backups.sh, standalone/install-mattermost.sh): apt's options, the environment GitLab's package scripts run in, and resuming a
# dpkg run that was killed. The script defines log() and sources lib/step-common.sh before this.

# apt waits up to 15 minutes for the dpkg lock (cloud-init, unattended upgrades) and retries downloads.
# shellcheck disable=SC2034 # read by the script that sources this file
apt_options=(-o DPkg::Lock::Timeout=900 -o Acquire::Retries=5)
# The package's maintainer scripts run without these: EXTERNAL_URL would make them rewrite gitlab.rb.
package_env=(env -u EXTERNAL_URL -u GITLAB_ROOT_PASSWORD DEBIAN_FRONTEND=noninteractive)

# A dpkg run that was killed (a lost connection during an install) leaves its journal behind, and apt
# then refuses everything with "dpkg was interrupted". Finishing it is what apt asks for: this runs
# `dpkg --configure -a` when the journal is not empty. dpkg does not wait for its lock as apt does, so
# while another process holds it (unattended upgrades), it tries again, for as long as apt would wait.
resume_interrupted_dpkg() {
    local journal=${DPKG_ADMINDIR:-/var/lib/dpkg}/updates
    local limit=${DPKG_LOCK_WAIT_SECONDS:-900} interval=${DPKG_LOCK_POLL_SECONDS:-5} started output status
    compgen -G "$journal/*" >/dev/null || return 0
    log "dpkg was interrupted; resuming it with dpkg --configure -a"
    started=$(now_ms)
    while :; do
        status=0
        output=$("${package_env[@]}" dpkg --configure -a 2>&1) || status=$?
        [ -z "$output" ] || printf '%s\n' "$output"
        [ "$status" -ne 0 ] || return 0
        # dpkg's words for a lock another process holds: "dpkg frontend lock was locked by another
        # process with pid N" (exit 2); older releases say "... is locked by another process".
        if ! grep -qE '(was|is) locked by another process' <<<"$output"; then
            fail "dpkg --configure -a failed (its output is above); fix the cause, then run the step again"
        fi
        if reached "$started" "$limit"; then
            fail "dpkg's lock stayed held by another process for ${limit}s, so the interrupted dpkg run could not be finished; see who holds it (sudo lsof /var/lib/dpkg/lock-frontend), then run the step again"
        fi
        log "dpkg's lock is held by another process; trying again in ${interval}s"
        sleep "$interval"
    done
}
