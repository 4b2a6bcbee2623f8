#!/usr/bin/env bash
# Posts a text file, the output of `pulumi preview --diff`, as a note on the merge request of the
# running GitLab pipeline, through GitLab's Notes API. .gitlab-ci.yml calls it:
#   scripts/post-mr-note.sh <heading> <file>
# GitLab sets CI_API_V4_URL, CI_PROJECT_ID and CI_MERGE_REQUEST_IID in merge request pipelines.
# GITLAB_MR_NOTE_TOKEN is a project access token with the `api` scope and at least the Reporter
# role (see .gitlab-ci.yml); CI_JOB_TOKEN cannot write notes.
#
# The file's text never passes through the shell: Node reads it and JSON.stringify builds the
# request, so nothing in a preview can be run or break the JSON. The token goes in a header from
# the environment, never on a command line or in the log.
set -euo pipefail

if [ $# -ne 2 ]; then
    echo "usage: $0 <heading> <file>" >&2
    exit 2
fi
for name in CI_API_V4_URL CI_PROJECT_ID CI_MERGE_REQUEST_IID GITLAB_MR_NOTE_TOKEN; do
    if [ -z "${!name:-}" ]; then
        echo "post-mr-note: $name is not set; this runs in merge request pipelines, with GITLAB_MR_NOTE_TOKEN as a masked CI/CD variable" >&2
        exit 1
    fi
done

exec node --input-type=module - "$1" "$2" <<'NODE'
import { readFileSync } from "node:fs";

const [heading, file] = process.argv.slice(2);
const { CI_API_V4_URL, CI_PROJECT_ID, CI_MERGE_REQUEST_IID, GITLAB_MR_NOTE_TOKEN } = process.env;

// GitLab refuses notes longer than 1,000,000 characters.
const NOTE_LIMIT = 1_000_000;

const text = readFileSync(file, "utf8");
// A fence longer than any run of backticks in the text, so the text cannot close it early.
const fence = "`".repeat(Math.max(3, ...Array.from(text.matchAll(/`+/g), (run) => run[0].length + 1)));
const note = (shown, footer) => `${heading}\n\n${fence}diff\n${shown}\n${fence}\n${footer}`;

const characters = Array.from(text);
let body = note(text, "");
if (Array.from(body).length > NOTE_LIMIT) {
    // The footer says how much is shown: at most as many digits as the whole length has.
    const footer = (shown) => `\n_Shortened to fit a note: the first ${shown} of ${characters.length} characters. The job log has the whole preview._\n`;
    const room = NOTE_LIMIT - Array.from(note("", footer(characters.length))).length;
    body = note(characters.slice(0, room).join(""), footer(room));
}

const url = `${CI_API_V4_URL}/projects/${encodeURIComponent(CI_PROJECT_ID)}/merge_requests/${encodeURIComponent(CI_MERGE_REQUEST_IID)}/notes`;
const response = await fetch(url, {
    method: "POST",
    headers: { "PRIVATE-TOKEN": GITLAB_MR_NOTE_TOKEN, "Content-Type": "application/json" },
    body: JSON.stringify({ body }),
});
if (!response.ok) {
    console.error(`post-mr-note: GitLab answered ${response.status} ${response.statusText}: ${await response.text()}`);
    process.exit(1);
}
console.log(`post-mr-note: posted "${heading}" on merge request !${CI_MERGE_REQUEST_IID}`);
NODE
