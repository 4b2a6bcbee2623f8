#!/usr/bin/env bash
# Second half of moving the bundled Mattermost to the standalone host; runs on the standalone host
# once it is installed and answers, with no data of its own yet. In order:
#   1. waits for an export (migration-common.sh: a run in ready.txt with neither verdict nor
#      abandoned mark), and checks the host: Mattermost answers, its database holds no posts that
#      did not come from an earlier run of this move, there is room for the folders;
#   2. fetches the run and checks every object against the manifest, and the version;
#   3. stops Mattermost here and builds everything beside what is in place: the database as
#      `mattermost_migrating` (loaded in one transaction, owned by mmuser, then every table's row count
#      and checksum compared with the bundled one), the folders under <data>/.migrating (every file's
#      sha256 compared), and the settings: /etc/mattermost/migrated.env holds every MM_* variable
#      the package passed that this host does not set itself, the at-rest key always; a systemd
#      drop-in adds it after mattermost.env. GitLab sign-in must use the same OAuth application;
#   4. swaps them in by renaming (the database in one transaction), starts Mattermost and waits
#      until it answers;
#   5. says `verified` to the bundled host, then drops what was replaced.
# Whatever ends it before the verdict, everything is put back as it was, Mattermost here runs as it
# did, the run's verdict says `failed: <why>` (so the bundled host starts its Mattermost again), and a
# FAILED line says why. A re-run starts again from the beginning: the database beside is dropped and
# rebuilt, never continued. Once the move is complete, a run changes nothing.
# Usage: import-standalone-mattermost.sh [EXPECTED_MATTERMOST_VERSION]
# Settings (environment, then the backup settings file): BACKUP_REMOTE, BACKUP_STACK, rclone's
# RCLONE_CONFIG_*; PG_BIN, PG_HOST, PG_PORT, PG_USER, PG_RUN_AS, MM_OWNER, MM_PING_URL, the
# MIGRATION_* ones and MATTERMOST_HOST_ROOT (every path below another directory) are for tests.
set -Eeuo pipefail
log() { printf 'import-standalone-mattermost: %s\n' "$*"; }
# shellcheck source-path=SCRIPTDIR source=../lib/step-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/step-common.sh"
# shellcheck source-path=SCRIPTDIR source=migration-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/migration-common.sh"

expected_version=${1:-}
pg_bin=${PG_BIN:-/usr/bin}
pg_run_as=${PG_RUN_AS-postgres}
export PGHOST=${PG_HOST:-/var/run/postgresql} PGPORT=${PG_PORT:-5432} PGUSER=${PG_USER:-postgres}
root=${MATTERMOST_HOST_ROOT:-}
# The standalone host's layout (components/mattermost/standalone/hostLayout.ts).
data_root=$root/var/opt/mattermost
config_file=$data_root/config/config.json
env_file=$root/etc/mattermost/mattermost.env
migrated_env=$root/etc/mattermost/migrated.env
dropin=$root/etc/systemd/system/mattermost.service.d/migrated-settings.conf
owner=${MM_OWNER-mattermost:mattermost}
database=mattermost role=mmuser building=mattermost_migrating replaced=mattermost_replaced
folders=(data plugins client-plugins)
staging=$data_root/.migrating
kept=$data_root/.replaced
imported_record=$state_dir/mattermost-migration.imported
# What a run has swapped in (one path per line, `database` for the database) and whether it stopped
# Mattermost here: a run killed outright leaves them, and the next run puts everything back first.
swap_journal=$state_dir/mattermost-migration.swapped
stopped_record=$state_dir/mattermost-migration.import-stopped
# What the package set for its own host, which this host sets its own way (hostLayout.ts,
# standaloneSettings.ts), or what only the package's runtime reads.
host_variables=(
    MM_SERVICESETTINGS_LISTENADDRESS MM_SQLSETTINGS_DRIVERNAME MM_SQLSETTINGS_DATASOURCE
    MM_LOGSETTINGS_FILELOCATION MM_FILESETTINGS_DIRECTORY MM_PLUGINSETTINGS_DIRECTORY
    MM_PLUGINSETTINGS_CLIENTDIRECTORY MM_INSTALL_TYPE SSL_CERT_DIR
)
at_rest_variable=MM_SQLSETTINGS_ATRESTENCRYPTKEY

cd /
umask 077
install -d -m 0700 "$state_dir"
exec 8>>"$state_dir/mattermost-migration.lock"
flock -n 8 || fail "another migration run holds $state_dir/mattermost-migration.lock"

work="" run="" was_active=false stopped=false building_created=false swapped=() verdict_given=false
remove_work() { [ -z "$work" ] || rm -rf "$work"; }
cleanup_steps+=(remove_work)

# Puts back what was swapped in, newest first.
put_back() {
    local index entry
    for ((index = ${#swapped[@]} - 1; index >= 0; index--)); do
        entry=${swapped[index]}
        case "$entry" in
        database) pg_sql postgres <<<"BEGIN; ALTER DATABASE $database RENAME TO $building; ALTER DATABASE $replaced RENAME TO $database; COMMIT;" && building_created=true ;;
        *) if [ -e "$kept/$(basename "$entry")" ]; then rm -rf "$entry" && mv "$kept/$(basename "$entry")" "$entry"; else rm -rf "$entry"; fi ;;
        esac
        # shellcheck disable=SC2181 # the case above is the command whose status counts
        if [ $? -eq 0 ]; then log "put back $entry" >&2; else log "could not put back $entry; see above" >&2; fi
    done
    if [ "${#swapped[@]}" -gt 0 ]; then systemctl daemon-reload || true; fi
    swapped=()
    rm -f "$swap_journal"
}
# Puts back whatever this run moved and tells the bundled host.
undo_import() {
    "$verdict_given" && return 0
    put_back
    if "$building_created"; then
        pg_sql postgres <<<"DROP DATABASE IF EXISTS $building WITH (FORCE);" || log "could not drop $building" >&2
    fi
    rm -rf "$staging" "$kept"
    if "$stopped" && "$was_active"; then
        if systemctl start mattermost; then log "started Mattermost here again, as it was" >&2; else log "could not start Mattermost here again" >&2; fi
    fi
    rm -f "$stopped_record"
    if [ -z "$run" ]; then
        write_object import-failed.txt "$(now_ms) ${failure:-ended by SIG${ended_by:-?}}" || log "could not record the failure in $migration_folder/import-failed.txt" >&2
    else
        write_object "$run/verdict.txt" "failed: ${failure:-ended by SIG${ended_by:-?}} (log: journalctl on the standalone host, or the output of this step)" ||
            log "could not give run $run its verdict; the bundled host gives up after its own wait" >&2
    fi
}
rollback_steps+=(undo_import)

completed=$(read_object completed.txt || true)
if [ -n "$completed" ]; then
    if [ "$(cat "$imported_record" 2>/dev/null)" = "$completed" ]; then
        log "Mattermost already moved here (run $completed); nothing to do"
    else
        log "Mattermost was moved in run $completed, to a host before this one; nothing to import here (restore the standalone Mattermost's backup instead)" >&2
    fi
    exit 0
fi

if [ -e "$swap_journal" ]; then
    mapfile -t swapped <"$swap_journal"
    log "an earlier run ended in the middle of swapping in; putting back: ${swapped[*]}"
    building_created=true
    put_back
fi
if [ -e "$stopped_record" ]; then
    log "an earlier run stopped Mattermost here and did not finish; starting it again first"
    rm -rf "$staging" "$kept"
    systemctl start mattermost
    rm -f "$stopped_record"
fi

# --- 1. Pre-flight, then wait for an export ------------------------------------------------------
# Checked before the bundled host stops anything: a failure here is reported to it (import-failed.txt).
started_at=$(now_ms)
mattermost_answers || fail "Mattermost on this host does not answer at $ping_url; it must be installed and healthy before the move"
was_active=true
[ -f "$env_file" ] || fail "$env_file does not exist: the standalone host's settings are not applied yet"
has_posts=$(pg_sql "$database" <<<"SELECT to_regclass('public.posts') IS NOT NULL;") || fail "cannot read database $database on this host"
posts=0
[ "$has_posts" != t ] || posts=$(pg_sql "$database" <<<"SELECT count(*) FROM public.posts;")
if [ "$posts" -gt 0 ] && [ ! -e "$imported_record" ]; then
    fail "database $database here already holds $posts posts that did not come from the bundled Mattermost; refusing to replace them"
fi
log "pre-flight passed: Mattermost answers here, with no posts of its own; waiting up to ${await_seconds}s for the bundled host's export"
progress_start "the bundled host's export" "$await_seconds"
waiting_since=$started_at
while :; do
    candidate=$(read_object ready.txt || true)
    if [ -n "$candidate" ] && ! read_object "$candidate/verdict.txt" >/dev/null && ! read_object "$candidate/abandoned.txt" >/dev/null; then
        break
    fi
    # An export that failed after this run began (epoch milliseconds first) will not come.
    export_failure=$(read_object export-failed.txt || true)
    if [ -n "$export_failure" ] && [ "${export_failure%% *}" -ge "$waiting_since" ]; then
        fail "the bundled host's export failed: ${export_failure#* }"
    fi
    reached "$waiting_since" "$await_seconds" && fail "no export from the bundled host within ${await_seconds}s"
    sleep "$poll_seconds"
done
progress_stop
run=$candidate
write_object "$run/taken.txt" "$(now_ms)"
log "importing run $run"

# --- 2. Fetch and check --------------------------------------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/mattermost-migration.XXXXXXXX")
rclone copy "$migration_folder/$run" "$work/run" </dev/null
manifest=$work/run/manifest.txt
[ -f "$manifest" ] || fail "run $run has no manifest.txt"
while read -r kind sum size name; do
    [ "$kind" = object ] || continue
    [ -f "$work/run/$name" ] || fail "run $run lacks $name"
    if [ "$(stat -c %s "$work/run/$name")" != "$size" ] || [ "$(sha256sum <"$work/run/$name" | cut -d' ' -f1)" != "$sum" ]; then
        fail "$name of run $run does not match its manifest (size or sha256)"
    fi
done <"$manifest"
version=$(awk '$1 == "version" { print $2 }' "$manifest")
if [ -n "$expected_version" ] && [ "$version" != "$expected_version" ]; then
    fail "run $run holds Mattermost $version, but this host runs $expected_version; the move needs the same version (gitlab-mattermost:mattermost.version)"
fi
needed=$(for folder in "${folders[@]}"; do stat -c %s "$work/run/$folder.tar"; done | awk '{ s += $1 } END { print s + 0 }')
available=$(free_bytes "$data_root")
[ "$available" -ge "$needed" ] || fail "$data_root has $available bytes free; the folders need $needed"
log "run $run checked against its manifest: Mattermost $version"

# --- 3. Build beside -----------------------------------------------------------------------------
printf 'run %s, pid %s\n' "$run" "$$" >"$stopped_record"
systemctl stop mattermost
stopped=true
log "loading the database into $building"
pg_sql postgres <<<"DROP DATABASE IF EXISTS $building WITH (FORCE);"
building_created=true
pg_sql postgres <<<"CREATE DATABASE $building WITH OWNER $role ENCODING 'UTF8' LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8' TEMPLATE template0;"
pg_sql "$building" <<<"ALTER SCHEMA public OWNER TO $role;"
{
    printf 'SET ROLE %s;\n' "$role"
    # pg_dump 17 writes a setting that PostgreSQL 16 does not know; the dump is complete without it.
    zstd --decompress --stdout --quiet "$work/run/database.sql.zst" | sed '/^SET transaction_timeout = /d'
} | pg_sql "$building" --single-transaction >/dev/null || fail "loading run $run's dump into $building failed (the error is above); nothing of it was kept"
table_fingerprints "$building" >"$work/tables.loaded"
if ! differences=$(diff "$work/run/tables.txt" "$work/tables.loaded"); then
    fail "the loaded database differs from the bundled one (table rows checksum; < bundled, > loaded): $(tr '\n' ' ' <<<"$differences")"
fi
log "database loaded: $(wc -l <"$work/tables.loaded") tables with the bundled row counts and checksums"

rm -rf "$staging"
mkdir -p "$staging"
for folder in "${folders[@]}"; do
    tar --extract --file="$work/run/$folder.tar" --directory="$staging"
done
(cd "$staging" && sha256sum --check --quiet --strict "$work/run/files.sha256") ||
    fail "files under $staging differ from the bundled ones (sha256)"
[ "$(cd "$staging" && find "${folders[@]}" -type f | wc -l)" = "$(wc -l <"$work/run/files.sha256")" ] ||
    fail "$staging holds files the bundled folders did not"
[ -z "$owner" ] || chown -R "$owner" "$staging"
log "folders unpacked: $(wc -l <"$work/run/files.sha256") files with the bundled sha256"

mkdir "$work/settings"
tar --extract --file="$work/run/settings.tar" --directory="$work/settings"
# The value runit's chpst -e gives a variable: the file's first line without trailing blanks, NULs
# turned into newlines; an empty file sets nothing (runit's chpst(8)).
env_value() {
    head -n 1 "$1" | sed 's/[ \t]*$//' | tr '\0' '\n'
}
# The value this host's own settings file gives variable $1 (written by environmentFile.ts: always
# double-quoted, one line per variable), or nothing.
own_value() {
    local line
    line=$(grep -m 1 "^$1=\"" "$env_file" || true)
    [ -n "$line" ] || return 0
    line=${line#*=\"}
    line=${line%\"}
    # One pass over the four escapes; a chain of ${//} would undo its own work on `\\\"`.
    # shellcheck disable=SC2001
    sed 's/\\\(["\\`$]\)/\1/g' <<<"$line"
}
quote_value() {
    local value=$1
    value=${value//\\/\\\\}
    value=${value//\"/\\\"}
    value=${value//\`/\\\`}
    value=${value//\$/\\\$}
    printf '"%s"' "$value"
}
carried=0
{
    printf '# Settings carried over from the bundled Mattermost (run %s) that this host does not set itself.\n' "$run"
    printf '# Read by mattermost.service after mattermost.env (%s).\n' "${dropin#"$root"}"
    for file in "$work/settings/env"/*; do
        name=$(basename "$file")
        [ -s "$file" ] || continue
        [[ "$name" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || continue
        if [ "$name" != "$at_rest_variable" ]; then
            [[ " ${host_variables[*]} " != *" $name "* ]] || continue
            grep -q "^$name=" "$env_file" && continue
        fi
        printf '%s=%s\n' "$name" "$(quote_value "$(env_value "$file")")"
        carried=$((carried + 1))
    done
} >"$staging/migrated.env"
[ -s "$work/settings/env/$at_rest_variable" ] || fail "run $run carries no at-rest key ($at_rest_variable)"
for name in MM_GITLABSETTINGS_ID MM_SERVICESETTINGS_SITEURL; do
    [ -s "$work/settings/env/$name" ] || continue
    bundled=$(env_value "$work/settings/env/$name")
    here=$(own_value "$name")
    [ -z "$here" ] || [ "$here" = "$bundled" ] ||
        fail "$name is \"$here\" here but \"$bundled\" on the bundled Mattermost: sign-in with GitLab would break (the OAuth application and the Mattermost URL must stay the same)"
done
printf '[Service]\nEnvironmentFile=%s\n' "${migrated_env#"$root"}" >"$staging/migrated-settings.conf"
cp "$work/settings/config.json" "$staging/config.json"
[ -z "$owner" ] || chown "$owner" "$staging/config.json"
chmod 0600 "$staging/migrated.env" "$staging/config.json"
chmod 0644 "$staging/migrated-settings.conf"
log "settings prepared: $carried variables carried over, among them the at-rest key"

# --- 4. Swap in and start ------------------------------------------------------------------------
rm -rf "$kept"
mkdir -p "$kept" "$(dirname "$dropin")"
pg_sql postgres <<<"DROP DATABASE IF EXISTS $replaced WITH (FORCE);"
pg_sql postgres -v name="$database" <<<"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :'name';" >/dev/null
pg_sql postgres <<<"BEGIN; ALTER DATABASE $database RENAME TO $replaced; ALTER DATABASE $building RENAME TO $database; COMMIT;"
building_created=false
swapped+=(database)
printf 'database\n' >>"$swap_journal"
swap_in() {
    local staged=$1 target=$2
    if [ -e "$target" ]; then mv "$target" "$kept/$(basename "$target")"; fi
    swapped+=("$target")
    printf '%s\n' "$target" >>"$swap_journal"
    mv "$staging/$staged" "$target"
}
for folder in "${folders[@]}"; do
    swap_in "$folder" "$data_root/$folder"
done
swap_in config.json "$config_file"
swap_in migrated.env "$migrated_env"
swap_in migrated-settings.conf "$dropin"
systemctl daemon-reload
systemctl start mattermost
mattermost_answers || fail "Mattermost here does not answer at $ping_url on the moved data; see journalctl -u mattermost"

# --- 5. The verdict ------------------------------------------------------------------------------
if read_object "$run/abandoned.txt" >/dev/null; then
    fail "the bundled host gave run $run up meanwhile: $(read_object "$run/abandoned.txt")"
fi
printf '%s\n' "$run" >"$imported_record.partial"
mv -f "$imported_record.partial" "$imported_record"
write_object "$run/verdict.txt" verified
verdict_given=true
rm -f "$swap_journal" "$stopped_record"
log "run $run verified and in place; Mattermost answers on the moved data"
pg_sql postgres <<<"DROP DATABASE IF EXISTS $replaced WITH (FORCE);" || log "could not drop $replaced (the empty database this host had); drop it by hand"
rm -rf "$kept" "$staging"
