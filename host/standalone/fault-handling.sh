# Fault handling shared by the scripts in host/standalone/. Each script sources it from beside itself;
# run remotely, this file travels in place of that line (hostScriptCommand).
# Whatever ends the script (an error, SIGHUP from a lost connection, SIGTERM, SIGINT, SIGPIPE), the
# EXIT trap runs once: the script's `undo` (if it defines one) takes back what the run half did,
# `clean_up` (if defined) removes its temporary files, and a FAILED line says why.
# Bash runs the EXIT trap with status 0 after a trapped signal, so each signal is turned into a
# failure here explicitly.
# shellcheck shell=bash

script=$(basename "$0" .sh)
failure=""

log() { printf '%s: %s\n' "$script" "$*" || true; }

# Ends the run as a failure with this reason.
fail() {
    failure=$*
    exit 1
}

finish() {
    local status=$?
    trap - EXIT ERR
    # Writing to a lost connection must not end the clean-up.
    trap '' HUP INT TERM PIPE
    if [ "$status" -ne 0 ] && declare -F undo >/dev/null; then undo || log "could not undo everything; see above" >&2; fi
    if declare -F clean_up >/dev/null; then clean_up || true; fi
    if [ "$status" -ne 0 ]; then log "FAILED: ${failure:-exit status $status}" >&2; fi
    exit "$status"
}

interrupted() {
    failure="interrupted by SIG$1"
    exit "$2"
}

trap finish EXIT
trap 'failure=${failure:-"line $LINENO: $BASH_COMMAND"}' ERR
trap 'interrupted HUP 129' HUP
trap 'interrupted INT 130' INT
trap 'interrupted TERM 143' TERM
trap 'interrupted PIPE 141' PIPE
