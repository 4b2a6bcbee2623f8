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
# shellcheck source-path=SCRIPTDIR source=lib/step-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/step-common.sh"

if [ "${1:-}" = --remove ]; then
    shift
    for target in "$@"; do
        case "$target" in
        /*.crt | /*.key) ;;
        *)
            failure="--remove takes only absolute paths of certificates (.crt) and keys (.key), got: $target"
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
remove_staged() { rm -f "$staged"; }
cleanup_steps+=(remove_staged)
cat >"$staged"
if [ ! -s "$staged" ]; then
    fail "refusing empty content for $target; it is unchanged"
fi
case "$target" in
*.crt) openssl x509 -noout -in "$staged" || fail "$target: not a PEM certificate; it is unchanged" ;;
*.key) openssl pkey -noout -in "$staged" || fail "$target: not a PEM private key; it is unchanged" ;;
esac
chown 0:0 "$staged"
chmod "$mode" "$staged"
mv -f "$staged" "$target"
log "installed $target ($mode)"
