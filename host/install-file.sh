#!/usr/bin/env bash
# Installs the file read from stdin at PATH with MODE, root-owned, atomically: the content is staged
# beside the target, checked, and renamed into place, so readers never see a missing or partial file.
# Certificates (.crt) and keys (.key) must parse with openssl before they replace anything.
# With --remove, deletes the certificates and keys given, where they exist: the program's own TLS
# files once the TLS mode no longer uses them.
# Usage: install-file.sh PATH MODE
#        install-file.sh --remove PATH.crt|PATH.key...
set -euo pipefail

log() { printf 'install-file: %s\n' "$*"; }

if [ "${1:-}" = --remove ]; then
    shift
    for target in "$@"; do
        case "$target" in
        /*.crt | /*.key) ;;
        *)
            log "--remove takes only absolute paths of certificates (.crt) and keys (.key), got: $target" >&2
            exit 2
            ;;
        esac
    done
    for target in "$@"; do
        if [ -e "$target" ]; then
            rm -f "$target"
            log "removed $target"
        fi
    done
    exit 0
fi

target=$1 mode=$2
directory=$(dirname "$target")

install -d -m 0755 "$directory"
umask 077
staged=$(mktemp "$directory/.$(basename "$target").XXXXXX")
trap 'rm -f "$staged"' EXIT
cat >"$staged"
if [ ! -s "$staged" ]; then
    log "refusing empty content for $target" >&2
    exit 1
fi
case "$target" in
*.crt) openssl x509 -noout -in "$staged" || { log "$target: not a PEM certificate" >&2; exit 1; } ;;
*.key) openssl pkey -noout -in "$staged" || { log "$target: not a PEM private key" >&2; exit 1; } ;;
esac
chown 0:0 "$staged"
chmod "$mode" "$staged"
mv -f "$staged" "$target"
log "installed $target ($mode)"
