#!/usr/bin/env bash
# Installs exactly one GitLab Omnibus package version from GitLab's signed apt repository and holds it.
# Usage: install-omnibus.sh EDITION VERSION CODENAME REPO_URL KEY_URL KEY_FINGERPRINT
# The repository of EDITION is always (re)configured. Re-running with the installed version changes
# nothing else. A host that already runs GitLab, in another version or edition, is left to the upgrade
# step, which moves it along GitLab's required upgrade stops.
set -euo pipefail

edition=$1 version=$2 codename=$3 repo_url=$4 key_url=$5 fingerprint=$6
package="gitlab-${edition}"
wanted="${version}-${edition}.0"
apt_dir=${APT_DIR:-/etc/apt}
gitlab_etc=${GITLAB_ETC_DIR:-/etc/gitlab}

log() { printf 'install-omnibus: %s\n' "$*"; }
# shellcheck source-path=SCRIPTDIR source=lib/step-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/step-common.sh"
# shellcheck source-path=SCRIPTDIR source=lib/packages.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/packages.sh"

# A fresh instance's cloud-init and unattended upgrades hold the apt locks for a while.
if command -v cloud-init >/dev/null 2>&1; then
    cloud-init status --wait >/dev/null || log "cloud-init finished with warnings; continuing"
fi
# An install killed on an earlier run (a lost connection) is finished first: apt refuses to work
# until it is, and the package it left half-installed is then seen for what it is.
resume_interrupted_dpkg

# The installed GitLab package, either edition, as "package version". Only an installed package
# counts (status "ii", or "hi" once held): a removed one keeps a version in dpkg's database too.
installed_gitlab() {
    local candidate state
    for candidate in gitlab-ee gitlab-ce; do
        state=$(dpkg-query -W -f='${db:Status-Abbrev}|${Version}' "$candidate" 2>/dev/null || true)
        case "$state" in
        ?i*) printf '%s %s\n' "$candidate" "${state#*|}" ;;
        esac
    done
}

# Write a file atomically: the content from stdin goes to a temporary file beside the target first.
install_atomically() {
    local target=$1 mode=$2 staged
    staged=$(mktemp "${target}.XXXXXX")
    cat >"$staged"
    chmod "$mode" "$staged"
    mv -f "$staged" "$target"
}

# The repository key, checked against its published fingerprint before apt may trust it.
install -d -m 0755 "$apt_dir/keyrings" "$apt_dir/sources.list.d"
keyring="$apt_dir/keyrings/gitlab-${edition}.asc"
downloaded=$(mktemp)
remove_download() { rm -f "$downloaded"; }
cleanup_steps+=(remove_download)
curl --fail --silent --show-error --location --retry 5 --output "$downloaded" "$key_url"
# The file must hold exactly one primary key, the expected one: an extra key would be trusted too.
primaries=$(gpg --show-keys --with-colons "$downloaded" | awk -F: '$1 == "pub" { primary = 1; next } $1 == "fpr" && primary { print $10; primary = 0 }')
if [ "$primaries" != "$fingerprint" ]; then
    fail "the key file at $key_url does not hold exactly the key with fingerprint $fingerprint (found: ${primaries//$'\n'/ }); refusing to trust it"
fi
install_atomically "$keyring" 0644 <"$downloaded"
printf 'deb [signed-by=%s] %s/%s/ubuntu/%s %s main\n' "$keyring" "$repo_url" "$package" "$codename" "$codename" |
    install_atomically "$apt_dir/sources.list.d/gitlab_${package}.list" 0644

current=$(installed_gitlab)
if [ "$current" = "$package $wanted" ]; then
    apt-mark hold "$package" >/dev/null
    log "$package $wanted is already installed and held"
    exit 0
fi
if [ -n "$current" ]; then
    log "$current is installed; the upgrade step takes it to $package $wanted"
    exit 0
fi

# An existing gitlab.rb stops the package from probing instance metadata for a URL and from running
# its own reconfigure; the real file replaces this placeholder before the first reconfigure.
install -d -m 0775 "$gitlab_etc"
if [ ! -e "$gitlab_etc/gitlab.rb" ]; then
    printf '# Placeholder: replaced by gitlab-mattermost before the first reconfigure.\n' |
        install_atomically "$gitlab_etc/gitlab.rb" 0600
fi

apt-get "${apt_options[@]}" update -q
"${package_env[@]}" apt-get "${apt_options[@]}" install -y -q "${package}=${wanted}"
apt-mark hold "$package" >/dev/null
log "installed and held $package $wanted"
