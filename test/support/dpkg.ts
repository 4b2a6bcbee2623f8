// A dpkg run killed mid-install, for the host scripts that resume it (host/lib/packages.sh): a journal
// under the sandbox's var/lib/dpkg (pass DPKG_ADMINDIR=<sandbox>/var/lib/dpkg) and a STAND-IN dpkg.

import { type Sandbox, sh } from "./standIns";

/** A dpkg run killed mid-install: its journal, and a dpkg stand-in that finds its lock held on the first `lockedFor` calls and then finishes the run (or fails, with `fails`). */
export function interruptedDpkg(sandbox: Sandbox, options: { lockedFor?: number; fails?: boolean } = {}): void {
    const journal = sandbox.path("var/lib/dpkg/updates");
    sandbox.write("var/lib/dpkg/updates/0001", "Package: gitlab-ee\nStatus: install ok unpacked\n");
    sandbox.standIn("dpkg", `record_env
[ "$*" = "--configure -a" ] || { echo "stand-in dpkg: only --configure -a is expected" >&2; exit 2; }
if [ "$CALL_NUMBER" -le ${options.lockedFor ?? 0} ]; then
    echo "dpkg: error: dpkg frontend lock was locked by another process with pid 4242" >&2; exit 2
fi
${options.fails ? `echo "dpkg: error processing package gitlab-ee (--configure): post-installation script returned error exit status 1" >&2; exit 1` : ""}
/usr/bin/rm -f ${sh(journal)}/*
echo "Setting up gitlab-ee (18.11.11-ee.0) ..."`);
}
