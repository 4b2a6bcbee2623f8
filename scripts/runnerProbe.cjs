// Preloaded (`node --require`) into Pulumi's Node.js runner by scripts/pulumiRunner.ts. Plain
// JavaScript on purpose: it must load the same way whichever TypeScript loader the project configures.
//
// It puts the runner on Pulumi's mock monitor, so the root stack resource the runner registers needs
// no engine, and ends the process the moment the runner's `require(program)` returns: what is measured
// is the program's load, not its resource registrations.

"use strict";
const Module = require("node:module");
const path = require("node:path");

const program = process.env.RUNNER_PROBE_PROGRAM;
if (!program) {
    throw new Error("runnerProbe.cjs: RUNNER_PROBE_PROGRAM must name the program's entry file");
}
const pulumi = require(require.resolve("@pulumi/pulumi", { paths: [process.cwd()] }));
pulumi.runtime.setMocks({ newResource: (args) => ({ id: `${args.name}-id`, state: args.inputs }), call: (args) => args.inputs });

const load = Module._load;
Module._load = function probeLoad(request, ...rest) {
    const exported = load.call(this, request, ...rest);
    if (path.isAbsolute(request) && path.resolve(request) === path.resolve(program)) {
        process.stdout.write(`runner loaded the program: ${program}\n`);
        process.exit(0);
    }
    return exported;
};
