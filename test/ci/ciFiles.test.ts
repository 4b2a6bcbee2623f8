// Tests for the CI files an administrator's repository runs: .gitlab-ci.yml and
// .github/workflows/pulumi.yml. Both are parsed with a real YAML parser; GitLab's `extends` is
// resolved the way GitLab merges it. The stacks are the ones each CI file names: each needs its stack
// file and all its jobs, while a stack file that no CI file names (an administrator's own, before it
// is added to CI) is none of CI's business. The shell the files run (guards, the OIDC token hand-over,
// the render into its artifact) is run here with bash.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { accessSync, constants, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { parseDocument } from "yaml";

const REPOSITORY = join(__dirname, "..", "..");

/** Where the stack files are: stacks/, or the copy the test of an administrator's own stack file gives. */
const STACKS_DIR = process.env.CI_FILES_TEST_STACKS_DIR ?? join(REPOSITORY, "stacks");

/** The stacks with a stack file, stacks/Pulumi.<stack>.yaml. */
const STACK_FILES = readdirSync(STACKS_DIR)
    .map((file) => /^Pulumi\.(.+)\.yaml$/.exec(file)?.[1])
    .filter((stack): stack is string => stack !== undefined)
    .sort();

/** What is wrong with the stacks a CI file names: each needs its stack file. Other stack files are fine. */
function stackFileProblems(named: readonly string[], stackFiles: readonly string[]): string[] {
    return named.filter((stack) => !stackFiles.includes(stack)).map((stack) => `${stack} has no stacks/Pulumi.${stack}.yaml`);
}

/** Variables that hold secrets; CI files pass them to tools through the environment only. */
const SECRET_VARIABLES = ["PULUMI_CONFIG_PASSPHRASE", "GITLAB_MR_NOTE_TOKEN", "AWS_ID_TOKEN", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "CI_JOB_TOKEN"];

/** How both CI files render a stack into its artifact. */
const RENDER_LINE = `npm run render -- --stack "$STACK" --json --output "render-$STACK.json"`;

/** The Pulumi SDK package-lock.json installs; the CI files' CLI must be this release or newer. */
const LOCKED_SDK = (JSON.parse(readFileSync(join(REPOSITORY, "package-lock.json"), "utf8")) as { packages: Record<string, { version: string }> }).packages["node_modules/@pulumi/pulumi"].version;

const semver = (version: string) => version.split(".").map(Number);
const atLeast = (version: string, floor: string) => {
    const [a, b] = [semver(version), semver(floor)];
    const differing = a.findIndex((part, i) => part !== b[i]);
    return differing === -1 || a[differing] > b[differing];
};

/** Runs a CI file's shell text with bash, in a bare environment plus `env`. */
function runShell(script: string, env: Record<string, string>, bashOptions: string[] = []) {
    // stdin from /dev/null: on a socket, which is what a pipe from Node is, bash would read ~/.bashrc.
    return spawnSync("bash", [...bashOptions, "-e", "-c", script], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env } });
}

// Renders run from a folder inside the project (npm finds package.json above it), ignored by git.
const renderScratch = join(REPOSITORY, ".tools");
mkdirSync(renderScratch, { recursive: true });
const scratch = mkdtempSync(join(renderScratch, "ci-render-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** Runs a CI file's render line for a shipped stack, as the job would, and reads the artifact it leaves. */
function renderArtifact(line: string, stack: string): unknown {
    const result = spawnSync("bash", ["-e", "-c", line], { cwd: scratch, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, STACK: stack } });
    assert.equal(result.status, 0, result.stderr);
    return JSON.parse(readFileSync(join(scratch, `render-${stack}.json`), "utf8"));
}

const NPM_SCRIPTS = Object.keys((JSON.parse(readFileSync(join(REPOSITORY, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts);

type Mapping = Record<string, unknown>;

/** Parses a YAML file, failing on any error or warning the parser reports. */
function readYaml(path: string): Mapping {
    const document = parseDocument(readFileSync(join(REPOSITORY, path), "utf8"));
    assert.deepEqual([...document.errors, ...document.warnings].map((problem) => problem.message), [], `${path} parses cleanly`);
    const value = document.toJS() as unknown;
    assert.ok(typeof value === "object" && value !== null && !Array.isArray(value), `${path} is a mapping`);
    return value as Mapping;
}

const isMapping = (value: unknown): value is Mapping => typeof value === "object" && value !== null && !Array.isArray(value);

/** `npm run <script>` and `npm test` in a shell line, as the script names they run. */
function npmScriptsIn(line: string): string[] {
    return [...line.matchAll(/\bnpm (?:run(?:-script)? ([\w:.-]+)|(test)\b)/g)].map((match) => match[1] ?? match[2]);
}

/** Whether a shell line expands one of the secret variables, or turns on tracing (which prints every expansion). */
function exposesSecret(line: string): string | undefined {
    if (/\bset\s+(?:-[a-wyz]*x|-o\s+xtrace)/.test(line)) {
        return "shell tracing";
    }
    return SECRET_VARIABLES.find((name) => new RegExp(`\\$\\{?${name}\\b`).test(line));
}

// ---------------------------------------------------------------------------------------------------
describe(".gitlab-ci.yml", () => {
    const config = readYaml(".gitlab-ci.yml");
    const KEYWORDS = new Set(["stages", "workflow", "variables", "default", "include", "image", "services", "cache", "before_script", "after_script"]);
    const jobNames = Object.keys(config).filter((key) => !KEYWORDS.has(key) && !key.startsWith("."));

    /** A job with its `extends` chain merged in: mappings deep-merged, anything else replaced, as GitLab does. */
    function job(name: string): Mapping {
        const definition = config[name];
        assert.ok(isMapping(definition), `.gitlab-ci.yml has a job ${name}`);
        const parents = [definition.extends ?? []].flat() as string[];
        const merged = parents.reduce<Mapping>((base, parent) => deepMerge(base, job(parent)), {});
        const { extends: _extends, ...own } = definition;
        return deepMerge(merged, own);
    }

    function deepMerge(base: Mapping, override: Mapping): Mapping {
        const result: Mapping = { ...base };
        for (const [key, value] of Object.entries(override)) {
            result[key] = isMapping(value) && isMapping(base[key]) ? deepMerge(base[key], value) : value;
        }
        return result;
    }

    const scriptLines = (resolved: Mapping) => ["before_script", "script", "after_script"].flatMap((key) => [resolved[key] ?? []].flat() as string[]);
    const rules = (resolved: Mapping) => (resolved.rules ?? []) as Mapping[];
    const ON_MERGE_REQUESTS = [{ if: `$CI_PIPELINE_SOURCE == "merge_request_event"` }];
    const stackOf = (name: string) => (job(name).variables as Mapping | undefined)?.STACK;
    /** The stacks the file names, in its jobs' STACK variables. */
    const stacks = [...new Set(jobNames.map(stackOf).filter((stack): stack is string => typeof stack === "string"))].sort();

    test("runs its stages in order: test, render, preview, deploy; every job in one of them", () => {
        assert.deepEqual(config.stages, ["test", "render", "preview", "deploy"]);
        for (const name of jobNames) {
            assert.ok((config.stages as string[]).includes(job(name).stage as string), `${name} is in a declared stage`);
        }
    });

    test("runs for merge requests and for the default branch only", () => {
        assert.deepEqual((config.workflow as Mapping).rules, [...ON_MERGE_REQUESTS, { if: "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH" }]);
    });

    test("tests in every pipeline, with the README's one command (npm ci and npm test inside)", () => {
        const tests = job("test");
        assert.equal(tests.stage, "test");
        assert.equal(tests.rules, undefined, "no rule keeps the tests from any pipeline");
        assert.deepEqual(tests.script, ["./scripts/setup-and-test.sh"]);
        assert.match(readFileSync(join(REPOSITORY, "scripts", "setup-and-test.sh"), "utf8"), /^npm ci\b.*\nnpm test$/m);
    });

    for (const stack of stacks) {
        test(`${stack}: render on merge requests, kept as an artifact`, () => {
            const render = job(`render:${stack}`);
            assert.equal(stackOf(`render:${stack}`), stack);
            assert.equal(render.stage, "render");
            assert.deepEqual(rules(render), ON_MERGE_REQUESTS);
            assert.ok(scriptLines(render).includes(RENDER_LINE));
            assert.deepEqual((render.artifacts as Mapping).paths, ["render-$STACK.json"]);
        });

        test(`${stack}: preview --diff with the policy pack on merge requests, kept in a note per stack`, () => {
            const preview = job(`preview:${stack}`);
            assert.equal(stackOf(`preview:${stack}`), stack);
            assert.equal(preview.stage, "preview");
            assert.deepEqual(rules(preview), ON_MERGE_REQUESTS);
            const lines = scriptLines(preview);
            const run = lines.find((line) => line.startsWith("pulumi preview"));
            assert.ok(run, "the job runs pulumi preview");
            for (const flag of ["--diff", `--stack "$STACK"`, "--policy-pack policy", "--non-interactive", `> "preview-$STACK.txt" 2>&1`]) {
                assert.ok(run.includes(flag), `pulumi preview ${flag}`);
            }
            const note = lines.find((line) => line.startsWith("scripts/post-mr-note.sh"));
            assert.ok(note !== undefined && note.endsWith(` "preview-$STACK.txt"`), "the preview file is posted as a note");
            assert.ok(note.startsWith(`scripts/post-mr-note.sh "preview-$STACK" `), "one note per stack, edited by each pipeline");
            assert.ok(lines.indexOf(note) > lines.indexOf(run), "the note is posted after the preview");
            // A failed preview is posted too, and still fails the job.
            assert.ok(run.endsWith("|| status=$?"));
            assert.equal(lines.at(-1), `exit "$status"`);
            assert.equal((preview.artifacts as Mapping).when, "always");
        });

        test(`${stack}: manual pulumi up on the default branch, one at a time`, () => {
            const up = job(`up:${stack}`);
            assert.equal(stackOf(`up:${stack}`), stack);
            assert.equal(up.stage, "deploy");
            assert.deepEqual(rules(up), [{ if: "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH", when: "manual", allow_failure: true }]);
            assert.equal(up.resource_group, stack);
            assert.equal(up.interruptible, false);
            const lines = scriptLines(up);
            const deploy = lines.indexOf(`pulumi up --yes --non-interactive --color never --stack "$STACK" --policy-pack policy`);
            assert.ok(deploy >= 0);
            assert.ok(lines.indexOf("scripts/ssm-client.sh") >= 0 && lines.indexOf("scripts/ssm-client.sh") < deploy, "the Systems Manager client is there before pulumi up reaches a host");
        });
    }

    test("names stacks that have stack files, each with its three jobs, and no other job names a stack", () => {
        assert.ok(stacks.length > 0);
        assert.deepEqual(stackFileProblems(stacks, STACK_FILES), []);
        const stackJobs = jobNames.filter((name) => stackOf(name) !== undefined);
        assert.deepEqual(stackJobs.sort(), stacks.flatMap((stack) => [`preview:${stack}`, `render:${stack}`, `up:${stack}`]).sort());
    });

    const pulumiJobs = jobNames.filter((name) => scriptLines(job(name)).some((line) => /^pulumi (preview|up)\b/.test(line)));
    /** The shell a Pulumi job runs before its script, but the dependencies' install (its last line). */
    const beforePulumi = (name: string) => {
        const lines = job(name).before_script as string[];
        assert.equal(lines.at(-1), "npm ci --no-audit --no-fund", `${name} installs the dependencies last`);
        return lines.slice(0, -1).join("\n");
    };
    /** The variables GitLab gives a merge request job, with stand-in values. */
    const JOB_ENVIRONMENT = { CI_PROJECT_ID: "42", CI_JOB_ID: "1001", PULUMI_BACKEND_URL: "s3://state/gitlab-mattermost?region=us-east-2", AWS_ROLE_ARN: "arn:aws:iam::000000000000:role/preview", AWS_ID_TOKEN: "eyJhbGciOiJSUzI1NiJ9.stand-in-claims.stand-in-signature" };

    test("refuses to run Pulumi without a state backend, rather than log in to a hosted one", () => {
        assert.deepEqual(pulumiJobs.sort(), stacks.flatMap((stack) => [`preview:${stack}`, `up:${stack}`]).sort());
        for (const name of pulumiJobs) {
            for (const empty of [{ PULUMI_BACKEND_URL: "" }, { PULUMI_BACKEND_URL: undefined }]) {
                const environment = Object.fromEntries(Object.entries({ ...JOB_ENVIRONMENT, ...empty }).filter((entry): entry is [string, string] => entry[1] !== undefined));
                const result = runShell(`${beforePulumi(name)}\necho reached the script`, environment);
                assert.equal(result.status, 1, name);
                assert.match(result.stderr, /^PULUMI_BACKEND_URL is not set: create it as a CI\/CD variable/, name);
                assert.doesNotMatch(result.stdout, /reached the script/);
            }
        }
    });

    test("authenticates to AWS with the job's OIDC token and a role per kind of job, never with stored keys", () => {
        assert.doesNotMatch(readFileSync(join(REPOSITORY, ".gitlab-ci.yml"), "utf8"), /AWS_ACCESS_KEY_ID|AWS_SECRET_ACCESS_KEY/);
        for (const name of pulumiJobs) {
            assert.deepEqual(job(name).id_tokens, { AWS_ID_TOKEN: { aud: "sts.amazonaws.com" } }, name);
            const role = (job(name).variables as Mapping).AWS_ROLE_ARN;
            assert.equal(role, name.startsWith("up:") ? "$AWS_DEPLOY_ROLE_ARN" : "$AWS_PREVIEW_ROLE_ARN", name);
        }
        for (const name of jobNames.filter((name) => !pulumiJobs.includes(name))) {
            assert.equal(job(name).id_tokens, undefined, `${name} gets no token`);
        }
    });

    test("hands the token to the AWS SDKs in a file, without printing it even when traced", () => {
        for (const name of pulumiJobs) {
            const shown = `printf '%s\\n' "$AWS_ROLE_ARN" "$AWS_ROLE_SESSION_NAME" "$AWS_WEB_IDENTITY_TOKEN_FILE"; cat "$AWS_WEB_IDENTITY_TOKEN_FILE"; rm -f "$AWS_WEB_IDENTITY_TOKEN_FILE"`;
            const result = runShell(`${beforePulumi(name)}\n${shown}`, JOB_ENVIRONMENT, ["-x"]);
            assert.equal(result.status, 0, result.stderr);
            const [role, session, tokenFile, token] = result.stdout.split("\n");
            assert.equal(role, JOB_ENVIRONMENT.AWS_ROLE_ARN);
            assert.equal(session, "gitlab-42-job-1001");
            assert.ok(tokenFile.startsWith("/"), "an absolute token file path");
            assert.equal(token, JOB_ENVIRONMENT.AWS_ID_TOKEN);
            assert.ok(!result.stderr.includes(JOB_ENVIRONMENT.AWS_ID_TOKEN), "the trace does not show the token");

            const noRole = runShell(beforePulumi(name), { ...JOB_ENVIRONMENT, AWS_ROLE_ARN: "" });
            assert.equal(noRole.status, 1);
            assert.match(noRole.stderr, /^AWS_ROLE_ARN is empty: create AWS_PREVIEW_ROLE_ARN and AWS_DEPLOY_ROLE_ARN as CI\/CD variables/m);
        }
    });

    test("runs a pinned Pulumi CLI, the release of the locked SDK or newer", () => {
        const image = (config.variables as Mapping).PULUMI_IMAGE as string;
        const pinned = /^pulumi\/pulumi-nodejs-\d+:(\d+\.\d+\.\d+)$/.exec(image);
        assert.ok(pinned, `${image} names an exact CLI version`);
        assert.ok(atLeast(pinned[1], LOCKED_SDK), `CLI ${pinned[1]} is not older than @pulumi/pulumi ${LOCKED_SDK}`);
        for (const name of pulumiJobs) {
            assert.deepEqual(job(name).image, { name: "$PULUMI_IMAGE", entrypoint: [""] });
        }
    });

    test("lets only project members with the Developer role or higher download artifacts", () => {
        const withArtifacts = jobNames.filter((name) => job(name).artifacts !== undefined);
        assert.deepEqual(withArtifacts.sort(), stacks.flatMap((stack) => [`preview:${stack}`, `render:${stack}`]).sort());
        for (const name of withArtifacts) {
            assert.equal((job(name).artifacts as Mapping).access, "developer", name);
        }
    });

    test("keeps the render as a JSON artifact, from the job's own command line", () => {
        const lines = [...new Set(stacks.flatMap((stack) => scriptLines(job(`render:${stack}`)).filter((line) => line.startsWith("npm run render"))))];
        assert.equal(lines.length, 1, "every stack renders the same way");
        const artifact = renderArtifact(lines[0], "split") as { stack: string; hosts: Record<string, unknown> };
        assert.equal(artifact.stack, "split");
        assert.deepEqual(Object.keys(artifact.hosts), ["gitlab", "mattermost"]);
        assert.equal(lines[0], RENDER_LINE, "the line .github/workflows/pulumi.yml runs too");
    });

    test("takes secrets only from CI/CD variables and never expands them in a script", () => {
        const defined = [config.variables, ...jobNames.map((name) => job(name).variables)].filter(isMapping).flatMap(Object.keys);
        assert.deepEqual(defined.filter((name) => SECRET_VARIABLES.includes(name)), [], "no secret has a value in the file");
        for (const name of jobNames) {
            for (const line of scriptLines(job(name))) {
                assert.equal(exposesSecret(line), undefined, `${name}: ${line}`);
            }
        }
    });

    test("runs only npm scripts and project scripts that exist", () => {
        const lines = jobNames.flatMap((name) => scriptLines(job(name)));
        const used = lines.flatMap(npmScriptsIn);
        assert.ok(used.includes("render"));
        assert.deepEqual(used.filter((script) => !NPM_SCRIPTS.includes(script)), []);
        const projectScripts = [...lines.join("\n").matchAll(/(?:^|\s|\.\/)(scripts\/[\w.-]+\.sh)/g)].map((match) => match[1]);
        assert.deepEqual([...new Set(projectScripts)].sort(), ["scripts/post-mr-note.sh", "scripts/setup-and-test.sh", "scripts/ssm-client.sh"]);
        for (const script of projectScripts) {
            accessSync(join(REPOSITORY, script), constants.X_OK);
        }
    });
});

// ---------------------------------------------------------------------------------------------------
describe(".github/workflows/pulumi.yml", () => {
    const workflow = readYaml(".github/workflows/pulumi.yml");
    const jobs = workflow.jobs as Record<string, Mapping>;
    const steps = (name: string) => jobs[name].steps as Mapping[];
    const pulumiStep = (name: string) => {
        const found = steps(name).filter((step) => step.uses === "pulumi/actions@v6");
        assert.equal(found.length, 1, `${name} runs pulumi/actions@v6 once`);
        return found[0];
    };
    const runsFirst = (name: string, command: string) => {
        const index = steps(name).findIndex((step) => step.run === command);
        assert.ok(index >= 0 && index < steps(name).indexOf(pulumiStep(name)), `${name} runs ${command} before Pulumi`);
    };
    const matrixStacks = (name: string) => (((jobs[name].strategy as Mapping).matrix as Mapping).stack as string[]).slice().sort();
    const dispatchStacks = () => (((((workflow.on as Mapping).workflow_dispatch as Mapping).inputs as Mapping).stack as Mapping).options as string[]).slice().sort();
    const ON_PULL_REQUESTS = "github.event_name == 'pull_request'";
    const PULUMI_JOBS = ["preview", "up"];
    const backendGuard = (name: string) => {
        const found = steps(name).filter((step) => step.name === "Require a state backend");
        assert.equal(found.length, 1, `${name} checks for a state backend once`);
        return found[0];
    };

    test("runs on pull requests and by hand, with the stack to deploy chosen among those it previews", () => {
        const on = workflow.on as Mapping;
        assert.deepEqual(Object.keys(on).sort(), ["pull_request", "workflow_dispatch"]);
        const stack = ((on.workflow_dispatch as Mapping).inputs as Mapping).stack as Mapping;
        assert.equal(stack.type, "choice");
        assert.deepEqual(workflow.permissions, { contents: "read" });
    });

    test("names the same stacks to render, preview and deploy, each with its stack file", () => {
        const stacks = dispatchStacks();
        assert.ok(stacks.length > 0);
        assert.deepEqual(matrixStacks("render"), stacks);
        assert.deepEqual(matrixStacks("preview"), stacks);
        assert.deepEqual(stackFileProblems(stacks, STACK_FILES), []);
    });

    test("tests first, with the README's one command; every other job needs the tests", () => {
        assert.ok(steps("test").some((step) => step.run === "./scripts/setup-and-test.sh"));
        assert.equal(jobs.test.if, undefined);
        for (const name of ["render", "preview", "up"]) {
            assert.equal(jobs[name].needs, "test", name);
        }
    });

    test("renders every stack on pull requests into a JSON artifact kept 7 days", () => {
        assert.equal(jobs.render.if, ON_PULL_REQUESTS);
        const render = steps("render").filter((step) => typeof step.run === "string" && step.run.startsWith("npm run render"));
        assert.equal(render.length, 1);
        assert.equal((render[0].env as Mapping).STACK, "${{ matrix.stack }}");
        const line = render[0].run as string;
        // The line .gitlab-ci.yml runs is run there; a different one is run here.
        if (line !== RENDER_LINE) {
            renderArtifact(line, "single");
        }
        assert.equal(line, RENDER_LINE);
        const upload = steps("render").find((step) => step.uses === "actions/upload-artifact@v4");
        assert.deepEqual(upload?.with, { name: "render-${{ matrix.stack }}", path: "render-${{ matrix.stack }}.json", "retention-days": 7 });
    });

    test("previews every stack on pull requests with the policy pack, commented on the pull request", () => {
        assert.equal(jobs.preview.if, ON_PULL_REQUESTS);
        assert.deepEqual(jobs.preview.permissions, { contents: "read", "id-token": "write", "pull-requests": "write" });
        runsFirst("preview", "npm ci --no-audit --no-fund");
        const preview = pulumiStep("preview");
        assert.deepEqual(preview.with, {
            command: "preview",
            "stack-name": "${{ matrix.stack }}",
            "cloud-url": "${{ vars.PULUMI_BACKEND_URL }}",
            "pulumi-version": (preview.with as Mapping)["pulumi-version"],
            diff: true,
            policyPacks: "policy",
            "comment-on-pr": true,
            "github-token": "${{ secrets.GITHUB_TOKEN }}",
        });
        assert.deepEqual(preview.env, { PULUMI_CONFIG_PASSPHRASE: "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}" });
    });

    test("deploys the chosen stack by hand from the default branch, one run per stack at a time", () => {
        assert.equal(jobs.up.if, "github.event_name == 'workflow_dispatch' && github.ref_name == github.event.repository.default_branch");
        assert.deepEqual(jobs.up.concurrency, { group: "pulumi-up-${{ inputs.stack }}", "cancel-in-progress": false });
        assert.equal(jobs.up.environment, "${{ inputs.stack }}");
        assert.deepEqual(jobs.up.permissions, { contents: "read", "id-token": "write" });
        runsFirst("up", "npm ci --no-audit --no-fund");
        const up = pulumiStep("up");
        const client = steps("up").findIndex((step) => step.run === "./scripts/ssm-client.sh");
        assert.ok(client >= 0 && client < steps("up").indexOf(up), "the Systems Manager client is checked before pulumi up reaches a host");
        assert.deepEqual(up.with, { command: "up", "stack-name": "${{ inputs.stack }}", "cloud-url": "${{ vars.PULUMI_BACKEND_URL }}", "pulumi-version": (up.with as Mapping)["pulumi-version"], policyPacks: "policy" });
        assert.deepEqual(up.env, { PULUMI_CONFIG_PASSPHRASE: "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}" });
    });

    test("refuses to run Pulumi without a state backend, rather than log in to Pulumi Cloud", () => {
        for (const name of PULUMI_JOBS) {
            assert.deepEqual(jobs[name].env, { PULUMI_BACKEND_URL: "${{ vars.PULUMI_BACKEND_URL }}" });
            const guard = backendGuard(name);
            assert.ok(steps(name).indexOf(guard) < steps(name).indexOf(pulumiStep(name)), `${name} checks before Pulumi runs`);
            const script = guard.run as string;
            for (const environment of [{ PULUMI_BACKEND_URL: "" }, {}] as Record<string, string>[]) {
                const refused = runShell(script, environment);
                assert.equal(refused.status, 1, name);
                assert.match(refused.stderr, /^PULUMI_BACKEND_URL is empty: create it as a repository variable/);
            }
            assert.equal(runShell(script, { PULUMI_BACKEND_URL: "s3://state/gitlab-mattermost" }).status, 0);
        }
    });

    test("authenticates to AWS with GitHub's OIDC token and a role per kind of job, never with stored keys", () => {
        assert.doesNotMatch(readFileSync(join(REPOSITORY, ".github", "workflows", "pulumi.yml"), "utf8"), /AWS_ACCESS_KEY_ID|AWS_SECRET_ACCESS_KEY/);
        const roles: Record<string, string> = { preview: "${{ vars.AWS_PREVIEW_ROLE_ARN }}", up: "${{ vars.AWS_DEPLOY_ROLE_ARN }}" };
        for (const name of PULUMI_JOBS) {
            const found = steps(name).filter((step) => step.uses === "aws-actions/configure-aws-credentials@v5");
            assert.equal(found.length, 1, name);
            assert.deepEqual(found[0].with, { "role-to-assume": roles[name], "aws-region": "${{ vars.AWS_REGION }}" });
            assert.ok(steps(name).indexOf(found[0]) < steps(name).indexOf(pulumiStep(name)));
        }
        for (const name of Object.keys(jobs).filter((name) => !PULUMI_JOBS.includes(name))) {
            assert.equal((jobs[name].permissions as Mapping | undefined)?.["id-token"], undefined, `${name} cannot ask for a token`);
        }
    });

    test("runs the Pulumi CLI that .gitlab-ci.yml pins", () => {
        const gitlabImage = (readYaml(".gitlab-ci.yml").variables as Mapping).PULUMI_IMAGE as string;
        const gitlabVersion = gitlabImage.slice(gitlabImage.indexOf(":") + 1);
        for (const name of PULUMI_JOBS) {
            assert.equal((pulumiStep(name).with as Mapping)["pulumi-version"], gitlabVersion, name);
        }
    });

    test("hands secrets to steps only through env and with, never into a shell line", () => {
        for (const [name, job] of Object.entries(jobs)) {
            for (const step of job.steps as Mapping[]) {
                const run = step.run;
                if (typeof run !== "string") {
                    continue;
                }
                assert.ok(!run.includes("secrets."), `${name}: a run line interpolates a secret: ${run}`);
                assert.equal(exposesSecret(run), undefined, `${name}: ${run}`);
            }
        }
    });

    test("runs only npm scripts that exist", () => {
        const used = Object.values(jobs).flatMap((job) => (job.steps as Mapping[]).flatMap((step) => (typeof step.run === "string" ? npmScriptsIn(step.run) : [])));
        assert.ok(used.includes("render"));
        assert.deepEqual(used.filter((script) => !NPM_SCRIPTS.includes(script)), []);
    });
});

// ---------------------------------------------------------------------------------------------------
const OWN_STACK_TEST = "an administrator's own stack file, not (yet) in CI, fails none of these checks";
describe("a stack file of the administrator's own", () => {
    // This file runs again, as `npm test` would, with the stack files of a copy of stacks/ holding an
    // extra Pulumi.mine.yaml. The render (which reads the real stacks/) and this test itself are left out.
    test(OWN_STACK_TEST, { skip: process.env.CI_FILES_TEST_STACKS_DIR !== undefined && "this is the run with the copy" }, () => {
        const stacks = mkdtempSync(join(tmpdir(), "ci-files-stacks-"));
        try {
            cpSync(join(REPOSITORY, "stacks"), stacks, { recursive: true });
            writeFileSync(join(stacks, "Pulumi.mine.yaml"), readFileSync(join(REPOSITORY, "stacks", "Pulumi.single.yaml"), "utf8"));
            const result = spawnSync(
                process.execPath,
                ["--import", "tsx", "--test", "--test-reporter=tap", "--test-skip-pattern=keeps the render as a JSON artifact", __filename],
                // Without NODE_TEST_CONTEXT, which would make the inner run a part of this one.
                { cwd: REPOSITORY, encoding: "utf8", env: { ...process.env, NODE_TEST_CONTEXT: undefined, CI_FILES_TEST_STACKS_DIR: stacks } },
            );
            const report = `${result.stdout}${result.stderr}`;
            assert.equal(result.status, 0, report);
            assert.match(report, /^# fail 0$/m, report);
            assert.match(report, /^# pass [1-9]\d*$/m, "the checks ran");
        } finally {
            rmSync(stacks, { recursive: true, force: true });
        }
    });
});
