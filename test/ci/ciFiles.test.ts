// Tests for the CI files an administrator's repository runs: .gitlab-ci.yml and
// .github/workflows/pulumi.yml. Both are parsed with a real YAML parser; GitLab's `extends` is
// resolved the way GitLab merges it. The stacks come from stacks/, so a stack file without its
// jobs fails here.

import assert from "node:assert/strict";
import { accessSync, constants, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { parseDocument } from "yaml";

const REPOSITORY = join(__dirname, "..", "..");

const STACKS = readdirSync(join(REPOSITORY, "stacks"))
    .map((file) => /^Pulumi\.(.+)\.yaml$/.exec(file)?.[1])
    .filter((stack): stack is string => stack !== undefined)
    .sort();

/** Variables that hold secrets; CI files pass them to tools through the environment only. */
const SECRET_VARIABLES = ["PULUMI_CONFIG_PASSPHRASE", "GITLAB_MR_NOTE_TOKEN", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "CI_JOB_TOKEN"];

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

    for (const stack of STACKS) {
        test(`${stack}: render on merge requests, kept as an artifact`, () => {
            const render = job(`render:${stack}`);
            assert.equal(stackOf(`render:${stack}`), stack);
            assert.equal(render.stage, "render");
            assert.deepEqual(rules(render), ON_MERGE_REQUESTS);
            assert.ok(scriptLines(render).includes(`npm run render -- --stack "$STACK" --json > "render-$STACK.json"`));
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
            assert.ok(scriptLines(up).includes(`pulumi up --yes --non-interactive --color never --stack "$STACK" --policy-pack policy`));
        });
    }

    test("has jobs for the stacks in stacks/ and no others", () => {
        const stackJobs = jobNames.filter((name) => stackOf(name) !== undefined);
        assert.deepEqual(
            stackJobs.sort(),
            STACKS.flatMap((stack) => [`preview:${stack}`, `render:${stack}`, `up:${stack}`]).sort(),
        );
    });

    test("refuses to run Pulumi without a state backend", () => {
        for (const name of jobNames.filter((name) => scriptLines(job(name)).some((line) => /^pulumi (preview|up)\b/.test(line)))) {
            const guard = scriptLines(job(name))[0];
            assert.match(guard, /if \[ -z "\$\{PULUMI_BACKEND_URL:-\}" \]; then[\s\S]*exit 1/, `${name} checks PULUMI_BACKEND_URL first`);
        }
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
        assert.deepEqual([...new Set(projectScripts)].sort(), ["scripts/post-mr-note.sh", "scripts/setup-and-test.sh"]);
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
    const ON_PULL_REQUESTS = "github.event_name == 'pull_request'";

    test("runs on pull requests and by hand, with the stack to deploy chosen among the stack files", () => {
        const on = workflow.on as Mapping;
        assert.deepEqual(Object.keys(on).sort(), ["pull_request", "workflow_dispatch"]);
        const stack = ((on.workflow_dispatch as Mapping).inputs as Mapping).stack as Mapping;
        assert.equal(stack.type, "choice");
        assert.deepEqual((stack.options as string[]).slice().sort(), STACKS);
        assert.deepEqual(workflow.permissions, { contents: "read" });
    });

    test("tests first, with the README's one command; every other job needs the tests", () => {
        assert.ok(steps("test").some((step) => step.run === "./scripts/setup-and-test.sh"));
        assert.equal(jobs.test.if, undefined);
        for (const name of ["render", "preview", "up"]) {
            assert.equal(jobs[name].needs, "test", name);
        }
    });

    test("renders every stack on pull requests, kept as an artifact", () => {
        assert.equal(jobs.render.if, ON_PULL_REQUESTS);
        assert.deepEqual(matrixStacks("render"), STACKS);
        assert.ok(steps("render").some((step) => step.run === `npm run render -- --stack "$STACK" --json > "render-$STACK.json"`));
        const upload = steps("render").find((step) => step.uses === "actions/upload-artifact@v4");
        assert.equal((upload?.with as Mapping).path, "render-${{ matrix.stack }}.json");
    });

    test("previews every stack on pull requests with the policy pack, commented on the pull request", () => {
        assert.equal(jobs.preview.if, ON_PULL_REQUESTS);
        assert.deepEqual(matrixStacks("preview"), STACKS);
        assert.deepEqual(jobs.preview.permissions, { contents: "read", "pull-requests": "write" });
        runsFirst("preview", "npm ci --no-audit --no-fund");
        const preview = pulumiStep("preview");
        assert.deepEqual(preview.with, {
            command: "preview",
            "stack-name": "${{ matrix.stack }}",
            "cloud-url": "${{ secrets.PULUMI_BACKEND_URL }}",
            diff: true,
            policyPacks: "policy",
            "comment-on-pr": true,
            "github-token": "${{ secrets.GITHUB_TOKEN }}",
        });
        assert.equal((preview.env as Mapping).PULUMI_CONFIG_PASSPHRASE, "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}");
    });

    test("deploys the chosen stack by hand from the default branch, one run per stack at a time", () => {
        assert.equal(jobs.up.if, "github.event_name == 'workflow_dispatch' && github.ref_name == github.event.repository.default_branch");
        assert.deepEqual(jobs.up.concurrency, { group: "pulumi-up-${{ inputs.stack }}", "cancel-in-progress": false });
        assert.equal(jobs.up.environment, "${{ inputs.stack }}");
        runsFirst("up", "npm ci --no-audit --no-fund");
        const up = pulumiStep("up");
        assert.deepEqual(up.with, { command: "up", "stack-name": "${{ inputs.stack }}", "cloud-url": "${{ secrets.PULUMI_BACKEND_URL }}", policyPacks: "policy" });
        assert.equal((up.env as Mapping).PULUMI_CONFIG_PASSPHRASE, "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}");
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
