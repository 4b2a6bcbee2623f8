// Runs first in `npm test` and `npm run render` (package.json's pretest and prerender). They need the
// Node.js that package.json's engines names (what @pulumi/pulumi requires); an older one fails in ways
// that do not say so. Plain CommonJS, so that any Node.js runs it.
"use strict";
const { execFileSync } = require("node:child_process");
const { existsSync, readFileSync } = require("node:fs");
const { join } = require("node:path");

const root = join(__dirname, "..");
const wanted = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).engines.node;
const minimum = Number(/^>=(\d+)$/.exec(wanted)[1]);
const running = process.versions.node;

if (Number(running.split(".")[0]) < minimum) {
    const lines = [`This is Node.js ${running} (${process.execPath}); the tests and the render need Node.js ${minimum} or newer.`];
    const installed = join(root, ".tools", "node", "bin");
    if (existsSync(join(installed, "node"))) {
        const version = execFileSync(join(installed, "node"), ["--version"], { encoding: "utf8" }).trim();
        lines.push(
            `./scripts/setup-and-test.sh installed Node.js ${version} in ${installed}. Put it first on PATH, then run the command again:`,
            `  export PATH="${installed}:$PATH"`,
        );
    } else {
        lines.push("Run ./scripts/setup-and-test.sh (it installs Node.js 24 into .tools/node when the machine's is older), or install a newer Node.js.");
    }
    process.stderr.write(`${lines.join("\n")}\n`);
    process.exit(1);
}
