// Tests for scripts/post-mr-note.sh, which keeps a preview in one merge request note per key. The
// script runs for real against a stand-in for GitLab's Notes API: a local HTTP server that records
// each request, lists the notes it is given (in pages of two, to exercise paging), and answers as told.

import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { runProcess, type RunResult } from "../support/standIns";

const REPOSITORY = join(__dirname, "..", "..");
const TOKEN = "glpat-stand-in-token-0123456789";
/** GitLab's largest note, in characters. */
const NOTE_LIMIT = 1_000_000;

interface RecordedRequest {
    readonly method: string;
    readonly url: string;
    readonly headers: IncomingHttpHeaders;
    readonly body: string;
}

const sandbox = mkdtempSync(join(tmpdir(), "post-mr-note-"));
after(() => rmSync(sandbox, { recursive: true, force: true }));

interface ExistingNote {
    readonly id: number;
    readonly body: string;
    readonly system: boolean;
}

const NOTES_PER_PAGE = 2;

/**
 * Runs the script against a stand-in GitLab that holds `existing` notes and answers writes with
 * `status`; returns the run and what GitLab received.
 */
async function postNote(preview: string, options: { status?: number; existing?: ExistingNote[]; key?: string; env?: Record<string, string | undefined> } = {}) {
    const requests: RecordedRequest[] = [];
    const existing = options.existing ?? [];
    const server = createServer((request, response) => {
        const chunks: Buffer[] = [];
        request.on("data", (chunk: Buffer) => chunks.push(chunk));
        request.on("end", () => {
            requests.push({ method: request.method ?? "", url: request.url ?? "", headers: request.headers, body: Buffer.concat(chunks).toString("utf8") });
            if (request.method === "GET") {
                const page = Number(new URL(request.url ?? "", "http://stand-in").searchParams.get("page"));
                const next = page * NOTES_PER_PAGE < existing.length ? String(page + 1) : "";
                response.writeHead(200, { "Content-Type": "application/json", "X-Next-Page": next });
                response.end(JSON.stringify(existing.slice((page - 1) * NOTES_PER_PAGE, page * NOTES_PER_PAGE)));
                return;
            }
            const status = options.status ?? (request.method === "POST" ? 201 : 200);
            response.writeHead(status, { "Content-Type": "application/json" });
            response.end(JSON.stringify(status < 300 ? { id: 1 } : { message: "403 Forbidden" }));
        });
    });
    await new Promise<void>((listening) => server.listen(0, "127.0.0.1", listening));
    try {
        const file = join(sandbox, "preview.txt");
        writeFileSync(file, preview);
        const env = {
            PATH: process.env.PATH ?? "",
            CI_API_V4_URL: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v4`,
            CI_PROJECT_ID: "42",
            CI_MERGE_REQUEST_IID: "7",
            GITLAB_MR_NOTE_TOKEN: TOKEN,
            ...options.env,
        };
        const defined = Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined));
        const run = await runProcess("bash", ["scripts/post-mr-note.sh", options.key ?? "preview-single", "pulumi preview --diff --stack single", file], { cwd: REPOSITORY, env: defined });
        return { run, requests };
    } finally {
        await new Promise((closed) => server.close(closed));
    }
}

const describeRun = (run: RunResult) => `status ${run.status}\n--- stdout\n${run.stdout}--- stderr\n${run.stderr}`;
const noteOf = (request: RecordedRequest) => (JSON.parse(request.body) as { body: string }).body;
const writes = (requests: RecordedRequest[]) => requests.filter((request) => request.method !== "GET");
const MARKER = "<!-- post-mr-note: preview-single -->";

describe("post-mr-note.sh", () => {
    test("posts the preview verbatim in a fence it cannot close, with the token as a header only", async () => {
        const marker = join(sandbox, "ran");
        const preview = [
            "Previewing update (single):",
            `  ~ command:remote:Command gitlab-gitlab-rb update [diff: ~stdin]`,
            `    create: "sudo bash -c '$(touch ${marker})' \`touch ${marker}\`"`,
            '    message: "quotes \\" and \'apostrophes\' and }"]}',
            "    ````four backticks```` and a unicode arrow →",
            "Resources: 1 to update",
        ].join("\n");
        const { run, requests } = await postNote(preview);

        assert.equal(run.status, 0, describeRun(run));
        assert.deepEqual(requests.map((request) => `${request.method} ${request.url}`), [
            "GET /api/v4/projects/42/merge_requests/7/notes?per_page=100&page=1",
            "POST /api/v4/projects/42/merge_requests/7/notes",
        ]);
        const request = requests[1]!;
        assert.ok(requests.every((each) => each.headers["private-token"] === TOKEN));
        assert.equal(request.headers["content-type"], "application/json");
        assert.equal(noteOf(request), `${MARKER}\npulumi preview --diff --stack single\n\n\`\`\`\`\`diff\n${preview}\n\`\`\`\`\`\n`);
        assert.equal(existsSync(marker), false, "nothing in the preview ran");
        assert.match(run.stdout, /posted "pulumi preview --diff --stack single" on merge request !7/);
        assert.ok(!(run.stdout + run.stderr).includes(TOKEN), "the token is not printed");
    });

    test("shortens a preview too long for a note, and says so", async () => {
        const line = "+   create: sudo bash -c 'install the package'\n";
        const preview = line.repeat(Math.ceil((NOTE_LIMIT * 1.2) / line.length));
        const { run, requests } = await postNote(preview);

        assert.equal(run.status, 0, describeRun(run));
        const note = noteOf(writes(requests)[0]!);
        assert.ok(note.length <= NOTE_LIMIT, `the note has ${note.length} characters`);
        assert.ok(note.length > NOTE_LIMIT - 200, "the note uses the room it has");
        const shown = /the first (\d+) of (\d+) characters/.exec(note);
        assert.ok(shown, "the note says it was shortened");
        assert.equal(Number(shown[2]), preview.length);
        assert.ok(note.includes(`\`\`\`diff\n${preview.slice(0, Number(shown[1]))}\n\`\`\`\n`));
    });

    test("fails, with GitLab's answer, when GitLab refuses the note", async () => {
        const { run, requests } = await postNote("Resources: 7 unchanged\n", { status: 403 });
        assert.equal(run.status, 1, describeRun(run));
        assert.equal(writes(requests).length, 1);
        assert.match(run.stderr, /GitLab answered POST with 403 Forbidden: \{"message":"403 Forbidden"\}/);
        assert.ok(!(run.stdout + run.stderr).includes(TOKEN));
    });

    test("edits the note it wrote for the same key, found on a later page; leaves other notes alone", async () => {
        const existing: ExistingNote[] = [
            { id: 11, body: "LGTM", system: false },
            { id: 12, body: `${MARKER}\nlooks like ours, but GitLab wrote it`, system: true },
            { id: 13, body: "<!-- post-mr-note: preview-split -->\npulumi preview --diff --stack split", system: false },
            { id: 14, body: `${MARKER}\npulumi preview --diff --stack single (an older commit)`, system: false },
        ];
        const { run, requests } = await postNote("Resources: 2 to update\n", { existing });
        assert.equal(run.status, 0, describeRun(run));
        assert.deepEqual(requests.map((request) => `${request.method} ${request.url.replace("/api/v4/projects/42/merge_requests/7/notes", "")}`), [
            "GET ?per_page=100&page=1",
            "GET ?per_page=100&page=2",
            "PUT /14",
        ]);
        assert.match(noteOf(requests[2]!), /^<!-- post-mr-note: preview-single -->\npulumi preview --diff --stack single\n\n```diff\nResources: 2 to update\n/);
        assert.match(run.stdout, /updated note 14 with "pulumi preview --diff --stack single" on merge request !7/);
    });

    test("a key of its own gets a note of its own", async () => {
        const existing: ExistingNote[] = [{ id: 14, body: `${MARKER}\npulumi preview --diff --stack single`, system: false }];
        const { run, requests } = await postNote("Resources: 2 to update\n", { existing, key: "preview-split" });
        assert.equal(run.status, 0, describeRun(run));
        assert.deepEqual(writes(requests).map((request) => request.method), ["POST"]);
        assert.ok(noteOf(writes(requests)[0]!).startsWith("<!-- post-mr-note: preview-split -->\n"));
    });

    test("fails before calling GitLab when the token is missing", async () => {
        const { run, requests } = await postNote("Resources: 7 unchanged\n", { env: { GITLAB_MR_NOTE_TOKEN: undefined } });
        assert.equal(run.status, 1, describeRun(run));
        assert.equal(requests.length, 0);
        assert.match(run.stderr, /GITLAB_MR_NOTE_TOKEN is not set/);
    });
});
