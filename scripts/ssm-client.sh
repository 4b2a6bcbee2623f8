#!/usr/bin/env bash
# Makes sure the machine that runs `pulumi up` has what ssh.access ssm needs: the AWS CLI and the
# Session Manager plugin (the program checks again, and says what is missing, before it reaches a host).
# On Debian or Ubuntu as root (a CI job's container) it installs what is missing: the AWS CLI v2 from
# the distribution's awscli package, and the plugin's package from AWS's download, pinned (AWS Systems
# Manager User Guide, "Install the Session Manager plugin on Debian Server and Ubuntu Server").
# Elsewhere it says what to install and fails. Prints both versions.
set -euo pipefail

# At least 1.2.764.0, the oldest the service still supports (the plugin's release history).
PLUGIN_VERSION=1.2.896.0

have() { command -v "$1" >/dev/null 2>&1; }

work=""
cleanup() { [ -z "$work" ] || rm -rf "$work"; }
trap cleanup EXIT
# Bash runs the EXIT trap with $? = 0 after an untrapped signal: each of HUP, INT, TERM and PIPE is a
# failure, said as one, and cleanup (the EXIT trap) only removes the temporary directory.
stopped_by() {
    echo "FAILED: stopped by SIG$1" >&2
    exit 1
}
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
trap_signals 'stopped_by HUP' HUP
trap_signals 'stopped_by INT' INT
trap_signals 'stopped_by TERM' TERM
trap_signals 'stopped_by PIPE' PIPE

missing=()
have aws || missing+=("the AWS CLI (aws)")
have session-manager-plugin || missing+=("the Session Manager plugin (session-manager-plugin)")
if [ "${#missing[@]}" -gt 0 ]; then
    if ! have apt-get || ! have dpkg || [ "$(id -u)" != 0 ]; then
        printf 'FAILED: missing: %s. This is not a Debian or Ubuntu machine this script may install on as root: install the AWS CLI v2 and the Session Manager plugin for it (AWS Systems Manager User Guide, "Install the Session Manager plugin for the AWS CLI").\n' "${missing[*]}" >&2
        exit 1
    fi
    case "$(dpkg --print-architecture)" in
        amd64) plugin_arch=ubuntu_64bit ;;
        arm64) plugin_arch=ubuntu_arm64 ;;
        *) echo "FAILED: AWS ships the Session Manager plugin for amd64 and arm64 only, not $(dpkg --print-architecture)" >&2; exit 1 ;;
    esac
    packages=()
    have aws || packages+=(awscli)
    have curl || packages+=(curl ca-certificates)
    if [ "${#packages[@]}" -gt 0 ]; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}"
    fi
    if ! have session-manager-plugin; then
        work=$(mktemp -d)
        curl -fsSL --retry 3 -o "$work/session-manager-plugin.deb" \
            "https://s3.amazonaws.com/session-manager-downloads/plugin/$PLUGIN_VERSION/$plugin_arch/session-manager-plugin.deb"
        dpkg -i "$work/session-manager-plugin.deb"
    fi
fi
aws --version
session-manager-plugin --version
