#!/usr/bin/env bash
# Gets Mattermost's Let's Encrypt certificate with certbot from Ubuntu's packages, through the webroot
# that nginx's port 80 site serves (apply nginx-http first). certbot's own timer (certbot.timer,
# twice a day) renews it; a deploy hook reloads nginx whenever a certificate is renewed.
# Usage: issue-certificate.sh HOSTNAME [CONTACT_EMAIL]
# Re-running is safe: certbot keeps a certificate that is not yet due for renewal.
# MATTERMOST_HOST_ROOT (tests only) puts every path below another directory.
set -Eeuo pipefail
log() { printf 'issue-certificate: %s\n' "$*"; }
# Traps and fail, shared with the other host scripts: rollback_steps run after a failure, whatever
# ended the run, cleanup_steps after every run.
# shellcheck source-path=SCRIPTDIR source=../lib/step-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/step-common.sh"

staged_hook=""
clean_up() {
    [ -z "$staged_hook" ] || rm -f "$staged_hook"
}
cleanup_steps+=(clean_up)

if [ "$#" -lt 1 ] || [ "$#" -gt 2 ]; then
    fail "usage: issue-certificate.sh HOSTNAME [CONTACT_EMAIL]"
fi
hostname=$1 email=${2:-}
[[ "$hostname" =~ ^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$ ]] || fail "not a hostname: $hostname"
root=${MATTERMOST_HOST_ROOT:-}
webroot="$root/var/www/mattermost-acme"
hooks="$root/etc/letsencrypt/renewal-hooks/deploy"

if ! command -v certbot >/dev/null 2>&1; then
    log "installing certbot from Ubuntu's packages"
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 -o Acquire::Retries=5 install -y -q certbot
fi

# The hook runs after each successful renewal, for every certificate on the host.
install -d -m 0755 "$hooks"
staged_hook=$(mktemp "$hooks/.reload-nginx.XXXXXX")
printf '%s\n' '#!/bin/sh' '# Written by gitlab-mattermost: nginx picks up renewed certificates.' 'exec systemctl reload nginx.service' >"$staged_hook"
chmod 0755 "$staged_hook"
mv -f "$staged_hook" "$hooks/reload-nginx"
staged_hook=""

contact=(--register-unsafely-without-email)
[ -z "$email" ] || contact=(--email "$email")
install -d -m 0755 "$webroot"
certbot certonly --non-interactive --agree-tos "${contact[@]}" \
    --webroot --webroot-path "$webroot" --domain "$hostname" --cert-name "$hostname" --keep-until-expiring ||
    fail "certbot could not get the certificate for $hostname; see /var/log/letsencrypt/letsencrypt.log"
systemctl enable --now certbot.timer
log "certificate for $hostname in place; certbot.timer renews it"
