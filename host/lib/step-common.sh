# shellcheck shell=bash
# Shared by the host scripts in host/ and host/standalone/: sourced when a script runs from its file,
# and put in place of the `. …/lib/step-common.sh` line when components/omnibus/hostScripts.ts builds
# the remote command.
# Each script defines log() before it sources this file.

# Milliseconds since the epoch. EPOCHREALTIME (bash 5) has microseconds; $SECONDS counts whole
# seconds, so a limit measured with it can be reached after a few milliseconds.
now_ms() {
    local micros=${EPOCHREALTIME/[.,]/}
    printf '%s' $((micros / 1000))
}

# Whole seconds since now_ms printed $1.
seconds_since() {
    printf '%s' $((($(now_ms) - $1) / 1000))
}

# Whether at least $2 seconds have passed since now_ms printed $1.
reached() {
    (($(now_ms) - $1 >= $2 * 1000))
}

# --- How a step ends ------------------------------------------------------------------------------
# Sourcing this file sets how every run ends: whatever ends it (success, an error under set -e,
# `fail`, or a signal) goes through end_step, the EXIT trap. Bash runs the EXIT trap after an
# untrapped HUP or PIPE with $? = 0, which would pass a dropped SSH connection for a success, so each
# signal is trapped and turned into a failure (status 128 + its number). A failed run rolls back and
# then says, as its last line on stderr, `<script>: FAILED (<how it ended>): <why>`.
# A script adds functions to rollback_steps (run in order, only after a failure) and to cleanup_steps
# (run after every end, e.g. removing its temporary files).
failure=""
ended_by=""
rollback_steps=()
cleanup_steps=()

# Ends the script as a failure (status 1) whose reason, $*, the FAILED line tells.
fail() {
    failure=$*
    exit 1
}

# `on_signal NAME NUMBER`: the number comes with the trap, as the handler must not parse a "$(...)".
on_signal() {
    ended_by=$1
    exit $((128 + $2))
}

# A command that ends the script through set -e is the reason, unless fail gave one.
on_error() {
    local status=$?
    [ -n "$failure" ] || failure="\`$BASH_COMMAND\` failed with status $status"
}

end_step() {
    local status=$? step how
    set +e
    # A second signal (the rest of a hangup, a repeated stop) must not cut the rollback short.
    trap '' HUP INT TERM PIPE
    trap - ERR
    progress_stop
    if [ "$status" -ne 0 ]; then
        for step in "${rollback_steps[@]}"; do
            "$step"
        done
    fi
    for step in "${cleanup_steps[@]}"; do
        "$step"
    done
    if [ "$status" -ne 0 ]; then
        how="exit status $status"
        [ -z "$ended_by" ] || how="ended by SIG$ended_by"
        # After a hangup nobody may read it; the write must not fail the rollback done above.
        log "FAILED ($how)${failure:+: $failure}" >&2 2>/dev/null
    fi
    exit "$status"
}

set -E
trap on_error ERR
trap end_step EXIT
# `trap_signals ACTION SIGNAL...`; ACTION must not return. Bash 5.2 may run a pending trap while it
# parses a "$(...)" it is expanding (xparse_dolparen in parse.y calls parse_command, which runs traps;
# 5.3 no longer does) and parse the action as the inside of that substitution: an action alone fails
# there with "unexpected EOF while looking for matching `)'", and the signal is lost. A line holding `)`
# after the action ends that parse; the usual parse runs the action before it reaches that line.
trap_signals() {
    local action=$1
    shift
    trap -- "$action"$'\n)' "$@"
}
for signal in HUP INT TERM PIPE; do
    trap_signals "on_signal $signal $(kill -l "$signal")" "$signal"
done
unset signal

# While a long step runs, prints what it waits for and for how long so far, every
# PROGRESS_INTERVAL_SECONDS (30): `progress_start WHAT [LIMIT_SECONDS]`, then `progress_stop`.
# The reporter is a child that ends on progress_stop, or by itself once this script is gone.
progress_pid=""
progress_start() {
    local what=$1 limit=${2:-} interval=${PROGRESS_INTERVAL_SECONDS:-30} started parent=$$
    progress_stop
    started=$(now_ms)
    (
        local sleeper=""
        trap - EXIT HUP INT PIPE
        # `wait` returns at once on a trapped signal; a foreground sleep would delay the trap.
        # shellcheck disable=SC2016 # $sleeper is read when the trap runs
        trap_signals 'kill "$sleeper" 2>/dev/null; exit 0' TERM
        while :; do
            # Its output goes nowhere, so a sleep outliving the reporter holds no pipe open.
            sleep "$interval" >/dev/null 2>&1 &
            sleeper=$!
            wait "$sleeper" || true
            kill -0 "$parent" 2>/dev/null || exit 0
            log "still waiting for $what: $(seconds_since "$started")s so far${limit:+ of ${limit}s}"
        done
    ) &
    progress_pid=$!
}
progress_stop() {
    if [ -n "$progress_pid" ]; then
        kill "$progress_pid" 2>/dev/null || true
        wait "$progress_pid" 2>/dev/null || true
        progress_pid=""
    fi
}

# After a reconfigure: files Omnibus renders with the SMTP password get modes that let only their
# readers in. Omnibus writes smtp_settings.rb 0644 root:root on every reconfigure; it gets the owner,
# group and mode Omnibus gives gitlab.yml beside it (root, GitLab's group, 0640), which Puma and Sidekiq
# read the same way. Mattermost's runit env files are read by chpst as root before it drops to the
# mattermost user; Omnibus creates them 0644 and keeps a mode once set.
protect_rendered_secrets() {
    local rails_etc=${GITLAB_RAILS_ETC_DIR:-/var/opt/gitlab/gitlab-rails/etc}
    local mattermost_env=${MATTERMOST_ENV_DIR:-/opt/gitlab/etc/mattermost/env}
    if [ -f "$rails_etc/smtp_settings.rb" ] && [ -f "$rails_etc/gitlab.yml" ]; then
        chown --reference="$rails_etc/gitlab.yml" "$rails_etc/smtp_settings.rb"
        chmod --reference="$rails_etc/gitlab.yml" "$rails_etc/smtp_settings.rb"
    fi
    if [ -d "$mattermost_env" ]; then
        chmod 0700 "$mattermost_env"
        find "$mattermost_env" -maxdepth 1 -type f -exec chmod 0600 {} +
    fi
}
