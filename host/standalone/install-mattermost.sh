#!/usr/bin/env bash
# Installs what a standalone Mattermost host runs: PostgreSQL and nginx from Ubuntu's packages, the
# `mattermost` system user, the directories that outlive releases, and the Mattermost release VERSION
# from its archive, checked against SHA256 before anything is unpacked.
# Everything that outlives the instance is on the data volume mounted at /var/opt/mattermost: files,
# plugins, config.json and PostgreSQL's cluster (/var/opt/mattermost/postgresql/<major>/main, instead
# of the package's own under /var/lib). A replaced instance finds them there: the cluster is taken
# into PostgreSQL's configuration as it is, and files another instance's accounts owned are handed
# to this one's, so nothing is created afresh over them.
# Releases sit side by side (/opt/mattermost-<v>, /opt/mattermost-team-<v>); /opt/mattermost links to
# the one in use, and the data volume records which release last ran on it (.gitlab-mattermost-release).
# The record is written when the link is made, before Mattermost first starts, so a volume without one
# has not been run on. A host whose volume no release or the same release ran on gets the link.
# Otherwise the new release is only staged: beside the one in use, or, on a replaced instance whose
# volume another release ran on, with no link at all, so that Mattermost cannot migrate the database
# before upgrade-mattermost.sh has backed it up and switched the link.
# Usage: install-mattermost.sh VERSION EDITION SHA256
#   VERSION  x.y.z;  EDITION  enterprise or team;  SHA256  the archive's published checksum (hex)
# Re-running is safe: a release already unpacked and recorded with the same checksum is kept.
# MATTERMOST_HOST_ROOT (tests only) puts every path below another directory.
set -Eeuo pipefail
log() { printf 'install-mattermost: %s\n' "$*"; }
# Traps and fail, shared with the other host scripts: rollback_steps run after a failure, whatever
# ended the run, cleanup_steps after every run.
# shellcheck source-path=SCRIPTDIR source=../lib/step-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/step-common.sh"
# apt's options, the package scripts' environment and resume_interrupted_dpkg, shared with install-omnibus.sh.
# shellcheck source-path=SCRIPTDIR source=../lib/packages.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/packages.sh"

# A release or link is only ever renamed into place whole; what is left half done is scratch.
scratch=()
clean_up() {
    if [ "${#scratch[@]}" -gt 0 ]; then rm -rf -- "${scratch[@]}"; fi
}
cleanup_steps+=(clean_up)

[ "$#" -eq 3 ] || fail "usage: install-mattermost.sh VERSION enterprise|team SHA256"
version=$1 edition=$2 sha256=$3
[[ "$version" =~ ^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$ ]] || fail "not a version x.y.z: $version"
case "$edition" in
enterprise) name="mattermost-$version" ;;
team) name="mattermost-team-$version" ;;
*) fail "unknown edition: $edition (enterprise or team)" ;;
esac
[[ "$sha256" =~ ^[0-9a-f]{64}$ ]] || fail "not a SHA-256 (64 lower-case hex digits): $sha256"

root=${MATTERMOST_HOST_ROOT:-}
opt="$root/opt"
release="$opt/$name"
link="$opt/mattermost"
data="$root/var/opt/mattermost"
user=mattermost
url="https://releases.mattermost.com/$version/$name-linux-amd64.tar.gz"

clusters="$data/postgresql"
release_record="$data/.gitlab-mattermost-release"
# Records on the data volume the release linked to run on it (upgrade-mattermost.sh does the same).
record_release() {
    local staged
    staged=$(mktemp "$release_record.XXXXXX")
    scratch+=("$staged")
    printf '%s\n' "$1" >"$staged"
    chmod 0644 "$staged"
    mv -f "$staged" "$release_record"
}
# The package would create its cluster under /var/lib on the root volume; this script makes it on the
# data volume instead (postgresql-common reads createcluster.d; create_main_cluster, pg_createcluster(1)).
createcluster_conf="$root/etc/postgresql-common/createcluster.d/gitlab-mattermost.conf"
install -d -m 0755 "$(dirname "$createcluster_conf")"
staged_conf=$(mktemp "$createcluster_conf.XXXXXX")
scratch+=("$staged_conf")
printf '%s\n' "# Written by gitlab-mattermost: the cluster lives on the data volume, made by install-mattermost.sh." "create_main_cluster = false" >"$staged_conf"
chmod 0644 "$staged_conf"
mv -f "$staged_conf" "$createcluster_conf"

log "installing PostgreSQL and nginx from Ubuntu's packages"
resume_interrupted_dpkg
apt-get "${apt_options[@]}" update -q
"${package_env[@]}" apt-get "${apt_options[@]}" install -y -q postgresql nginx
# The package's welcome site would answer for any name on port 80.
rm -f "$root/etc/nginx/sites-enabled/default"

if ! getent passwd "$user" >/dev/null; then
    useradd --system --user-group --home-dir "/var/opt/mattermost" --shell /usr/sbin/nologin "$user"
    log "created the system user $user"
fi
# Files on the data volume that another instance's mattermost account owned (its uid may differ here).
kept=("$data/data" "$data/plugins" "$data/client-plugins" "$data/config")
reown=no
if [ -d "$data/data" ] && [ "$(stat -c %u "$data/data")" != "$(id -u "$user")" ]; then reown=yes; fi
# The data root stays root's and open to traverse: PostgreSQL's account reaches its cluster below it.
install -d -m 0755 "$opt" "$root/var/opt" "$data" "$root/var/www/mattermost-acme" "$root/etc/mattermost"
install -d -m 0750 -o "$user" -g "$user" "${kept[@]}" "$root/var/log/mattermost"
if [ "$reown" = yes ]; then
    chown -R "$user:$user" "${kept[@]}"
    log "handed the data volume's Mattermost files to this host's $user account"
fi

# PostgreSQL's cluster on the data volume, for the server version the package installed.
major=$(find "$root/usr/lib/postgresql" -mindepth 1 -maxdepth 1 -printf '%f\n' | grep -E '^[0-9]+$' | sort -n | tail -n 1)
[ -n "$major" ] || fail "the postgresql package installed no server under /usr/lib/postgresql"
cluster="$clusters/$major/main"
for found in "$clusters"/*/main/PG_VERSION; do
    [ -e "$found" ] || continue
    found_major=$(cat "$found")
    [ "$found_major" = "$major" ] || fail "the data volume holds a PostgreSQL $found_major cluster ($(dirname "$found")), and this host installed PostgreSQL $major: upgrade the cluster (pg_upgradecluster) before Mattermost can use it; nothing was changed"
done
if pg_lsclusters --no-header | awk -v major="$major" '$1 == major && $2 == "main" { found = 1 } END { exit !found }'; then
    log "PostgreSQL $major's cluster is configured"
else
    install -d -m 0755 -o postgres -g postgres "$clusters"
    if [ -e "$cluster/PG_VERSION" ]; then
        if [ "$(stat -c %u "$cluster/PG_VERSION")" != "$(id -u postgres)" ]; then
            chown -R postgres:postgres "$clusters"
        fi
        log "taking the data volume's PostgreSQL $major cluster at $cluster into use"
    else
        log "creating PostgreSQL $major's cluster at $cluster"
    fi
    # An existing data directory is configured as it is (pg_createcluster(1)).
    pg_createcluster --datadir "$cluster" "$major" main
fi
systemctl enable postgresql.service
systemctl start "postgresql@$major-main.service"

marker="$release/.gitlab-mattermost-sha256"
if [ -d "$release" ] && [ "$(cat "$marker" 2>/dev/null || true)" = "$sha256" ]; then
    log "$name is already unpacked at $release"
else
    [ ! -e "$release" ] || fail "$release exists but was not installed from an archive with SHA-256 $sha256; move it away and re-run"
    archive=$(mktemp "$opt/.$name.tar.gz.XXXXXX")
    scratch+=("$archive")
    log "downloading $url"
    curl -fsSL --retry 5 --retry-delay 5 --connect-timeout 30 -o "$archive" "$url"
    actual=$(sha256sum "$archive" | cut -d' ' -f1)
    [ "$actual" = "$sha256" ] || fail "the archive's SHA-256 is $actual, not the expected $sha256; nothing was unpacked"
    unpacked=$(mktemp -d "$opt/.$name.XXXXXX")
    scratch+=("$unpacked")
    tar -xzf "$archive" -C "$unpacked" --no-same-owner
    [ -x "$unpacked/mattermost/bin/mattermost" ] || fail "the archive has no mattermost/bin/mattermost"
    printf '%s\n' "$sha256" >"$unpacked/mattermost/.gitlab-mattermost-sha256"
    chown -R "$user:$user" "$unpacked/mattermost"
    mv -T "$unpacked/mattermost" "$release"
    log "unpacked $name at $release"
fi

if [ -L "$link" ]; then
    current=$(readlink "$link")
    if [ "$current" = "$name" ]; then
        record_release "$name"
        log "$link already runs $name"
    else
        log "$link runs $current; upgrade-mattermost.sh switches it to $name"
    fi
elif [ -e "$link" ]; then
    fail "$link is not a link to a release; move it away and re-run"
elif [ -e "$release_record" ] && last=$(cat "$release_record") && [ "$last" != "$name" ]; then
    log "the data volume was last run by $last; upgrade-mattermost.sh backs it up and links $name"
else
    staged_link="$opt/.mattermost.link.$$"
    scratch+=("$staged_link")
    ln -sfn "$name" "$staged_link"
    mv -T "$staged_link" "$link"
    record_release "$name"
    log "$link now runs $name"
fi
