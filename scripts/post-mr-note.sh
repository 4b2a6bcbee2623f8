#!/usr/bin/env bash
# Shows a text file, the output of `pulumi preview --diff`, as a note on the merge request of the
# running GitLab pipeline, through GitLab's Notes API. .gitlab-ci.yml calls it:
#   scripts/post-mr-note.sh <key> <heading> <file>
# One note per key (e.g. the stack): the note this script wrote for the key before is edited, so a
# merge request carries the latest preview of each stack rather than one note per pipeline. The key
# is kept in the note as an HTML comment, which GitLab does not show.
# GitLab sets CI_API_V4_URL, CI_PROJECT_ID and CI_MERGE_REQUEST_IID in merge request pipelines.
# GITLAB_MR_NOTE_TOKEN is a project access token with the `api` scope and at least the Reporter
# role (see .gitlab-ci.yml); CI_JOB_TOKEN cannot write notes.
#
# The file's text never passes through the shell: Node reads it and JSON.stringify builds the
# request, so nothing in a preview can be run or break the JSON. The token goes in a header from
# the environment, never on a command line or in the log.
set -euo pipefail

if [ $# -ne 3 ]; then
    echo "usage: $0 <key> <heading> <file>" >&2
    exit 2
fi
for name in CI_API_V4_URL CI_PROJECT_ID CI_MERGE_REQUEST_IID GITLAB_MR_NOTE_TOKEN; do
    if [ -z "${!name:-}" ]; then
        echo "post-mr-note: $name is not set; this runs in merge request pipelines, with GITLAB_MR_NOTE_TOKEN as a masked CI/CD variable" >&2
        exit 1
    fi
done

exec node --input-type=module - "$1" "$2" "$3" <<'NODE'
import { readFileSync } from "node:fs";

const [key, heading, file] = process.argv.slice(2);
const { CI_API_V4_URL, CI_PROJECT_ID, CI_MERGE_REQUEST_IID, GITLAB_MR_NOTE_TOKEN } = process.env;

// GitLab refuses notes longer than 1,000,000 characters.
const NOTE_LIMIT = 1_000_000;

const text = readFileSync(file, "utf8");
// A fence longer than any run of backticks in the text, so the text cannot close it early.
const fence = "`".repeat(Math.max(3, ...Array.from(text.matchAll(/`+/g), (run) => run[0].length + 1)));
const marker = `<!-- post-mr-note: ${key.replace(/--/g, "- -")} -->`;
const note = (shown, footer) => `${marker}\n${heading}\n\n${fence}diff\n${shown}\n${fence}\n${footer}`;

const characters = Array.from(text);
let body = note(text, "");
if (Array.from(body).length > NOTE_LIMIT) {
    // The footer says how much is shown: at most as many digits as the whole length has.
    const footer = (shown) => `\n_Shortened to fit a note: the first ${shown} of ${characters.length} characters. The job log has the whole preview._\n`;
    const room = NOTE_LIMIT - Array.from(note("", footer(characters.length))).length;
    body = note(characters.slice(0, room).join(""), footer(room));
}

const notes = `${CI_API_V4_URL}/projects/${encodeURIComponent(CI_PROJECT_ID)}/merge_requests/${encodeURIComponent(CI_MERGE_REQUEST_IID)}/notes`;
const headers = { "PRIVATE-TOKEN": GITLAB_MR_NOTE_TOKEN, "Content-Type": "application/json" };

async function gitlab(method, url, payload) {
    const response = await fetch(url, { method, headers, ...(payload ? { body: JSON.stringify(payload) } : {}) });
    if (!response.ok) {
        console.error(`post-mr-note: GitLab answered ${method} with ${response.status} ${response.statusText}: ${await response.text()}`);
        process.exit(1);
    }
    return response;
}

// The note for this key, if there is one: the merge request's notes, page by page.
let previous;
for (let page = "1"; page && !previous; ) {
    const response = await gitlab("GET", `${notes}?per_page=100&page=${page}`);
    previous = (await response.json()).find((candidate) => !candidate.system && candidate.body.startsWith(`${marker}\n`));
    page = response.headers.get("x-next-page");
}

if (previous) {
    await gitlab("PUT", `${notes}/${previous.id}`, { body });
    console.log(`post-mr-note: updated note ${previous.id} with "${heading}" on merge request !${CI_MERGE_REQUEST_IID}`);
} else {
    await gitlab("POST", notes, { body });
    console.log(`post-mr-note: posted "${heading}" on merge request !${CI_MERGE_REQUEST_IID}`);
}
NODE
