// The layout of components/: one folder per concern, in layers. A folder imports only from folders
// before it in LAYERS, so the folders form no circle; pure modules reach no cloud SDK, not even through
// another module; tests mirror the folders.

import assert from "node:assert/strict";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, posix, relative } from "node:path";
import { describe, it } from "node:test";
import ts from "typescript";

const ROOT = join(__dirname, "..");
const COMPONENTS = join(ROOT, "components");

/** The folders of components/, bottom first: each imports only from the folders before it. */
const LAYERS = ["versions", "settings", "aws", "tls", "omnibus", "mattermost", "gitlabRb", "backups", "stack"] as const;

/** Folders whose every module is pure. Elsewhere a module is pure when its header says "Pure module". */
const PURE_FOLDERS = new Set<string>(["versions", "settings", "gitlabRb"]);
const CLOUD_SDK = /^@pulumi\//;

interface Module {
    /** Path below components/, with forward slashes. */
    readonly path: string;
    readonly pure: boolean;
    /** Paths below components/ of the modules it imports, relative imports only. */
    readonly imports: readonly string[];
    /** Package imports (`@pulumi/aws`, `node:fs`, ...). */
    readonly packages: readonly string[];
    /** Relative imports that leave components/. */
    readonly outside: readonly string[];
}

function filesBelow(dir: string): string[] {
    return readdirSync(dir).flatMap((name) => {
        const path = join(dir, name);
        return statSync(path).isDirectory() ? filesBelow(path) : [path];
    });
}

function resolveModule(from: string, specifier: string): string {
    const base = posix.normalize(posix.join(posix.dirname(from), specifier)).replace(/\.js$/, "");
    for (const candidate of [`${base}.ts`, `${base}/index.ts`, base]) {
        try {
            if (statSync(join(COMPONENTS, candidate)).isFile()) return candidate;
        } catch {
            // not this candidate
        }
    }
    return base;
}

function readModules(): Module[] {
    return filesBelow(COMPONENTS)
        .filter((file) => file.endsWith(".ts"))
        .map((file) => {
            const path = relative(COMPONENTS, file).split("\\").join("/");
            const text = readFileSync(file, "utf8");
            // every import form: import, import type, export ... from, import(), require()
            const specifiers = ts.preProcessFile(text, true, true).importedFiles.map((ref) => ref.fileName);
            const relativeOnes = specifiers.filter((s) => s.startsWith("."));
            const targets = relativeOnes.map((s) => resolveModule(path, s));
            const firstStatement = text.search(/^(import|export)\b/m);
            const header = firstStatement < 0 ? text : text.slice(0, firstStatement);
            return {
                path,
                pure: PURE_FOLDERS.has(folderOf(path)) || /Pure module/.test(header),
                imports: targets.filter((t) => !t.startsWith("../")),
                packages: specifiers.filter((s) => !s.startsWith(".")),
                outside: targets.filter((t) => t.startsWith("../")),
            };
        });
}

function folderOf(path: string): string {
    return path.includes("/") ? path.slice(0, path.indexOf("/")) : "";
}

/** Imports that break the layering: into the same or a later layer of another folder, or into no layer. */
export function layerViolations(layers: readonly string[], edges: readonly { from: string; to: string }[]): string[] {
    return edges.flatMap(({ from, to }) => {
        const [a, b] = [folderOf(from), folderOf(to)];
        if (a === b && a !== "") return [];
        const [i, j] = [layers.indexOf(a), layers.indexOf(b)];
        if (i < 0) return [`${from} is in no declared folder (${layers.join(", ")})`];
        if (j < 0) return [`${from} imports ${to}, which is in no declared folder`];
        return j < i ? [] : [`${from} imports ${to}: ${b}/ is not below ${a}/ (order: ${layers.join(" < ")})`];
    });
}

/** Pure modules that reach a cloud SDK package, directly or through the modules they import. */
export function impureReach(modules: readonly Module[]): string[] {
    const byPath = new Map(modules.map((m) => [m.path, m]));
    const reach = (start: Module): string[] => {
        const seen = new Set<string>();
        const found: string[] = [];
        const walk = (m: Module, via: string[]) => {
            if (seen.has(m.path)) return;
            seen.add(m.path);
            for (const p of m.packages.filter((p) => CLOUD_SDK.test(p))) found.push([...via, m.path, p].join(" -> "));
            for (const next of m.imports) {
                const target = byPath.get(next);
                if (target) walk(target, [...via, m.path]);
            }
        };
        walk(start, []);
        return found;
    };
    return modules.filter((m) => m.pure).flatMap(reach);
}

describe("components/ layout", () => {
    const modules = readModules();

    it("holds only the declared folders at its top", () => {
        const top = readdirSync(COMPONENTS);
        assert.deepEqual(top.filter((entry) => !(LAYERS as readonly string[]).includes(entry)), []);
        assert.ok(modules.length > LAYERS.length, "components/ was read");
    });

    it("imports only downward, folder by folder, so the folders form no circle", () => {
        const edges = modules.flatMap((m) => m.imports.map((to) => ({ from: m.path, to })));
        assert.ok(edges.some((e) => folderOf(e.from) !== folderOf(e.to)), "cross-folder imports were found");
        assert.deepEqual(layerViolations(LAYERS, edges), []);
        assert.deepEqual(modules.flatMap((m) => m.outside.map((o) => `${m.path} imports ${o}, outside components/`)), []);
    });

    it("keeps pure modules free of cloud SDK imports, also through what they import", () => {
        assert.ok(modules.filter((m) => m.pure).length >= 10, "pure modules were recognised");
        assert.deepEqual(impureReach(modules), []);
    });

    it("mirrors the folders in test/components/", () => {
        const testDir = join(ROOT, "test", "components");
        const misplaced = filesBelow(testDir)
            .map((file) => relative(testDir, file).split("\\").join("/"))
            .filter((path) => !(LAYERS as readonly string[]).includes(folderOf(path)));
        assert.deepEqual(misplaced, []);
    });

    it("reports an upward import, a circle and an unplaced module", () => {
        const layers = ["low", "high"];
        assert.deepEqual(layerViolations(layers, [{ from: "high/a.ts", to: "low/b.ts" }]), []);
        assert.equal(layerViolations(layers, [{ from: "low/b.ts", to: "high/a.ts" }]).length, 1);
        assert.equal(layerViolations(layers, [{ from: "high/a.ts", to: "low/b.ts" }, { from: "low/c.ts", to: "high/d.ts" }]).length, 1);
        assert.equal(layerViolations(layers, [{ from: "loose.ts", to: "low/b.ts" }]).length, 1);
        assert.equal(layerViolations(layers, [{ from: "high/a.ts", to: "other/b.ts" }]).length, 1);
    });

    it("reports a pure module that reaches a cloud SDK through another module", () => {
        const module = (path: string, pure: boolean, imports: string[], packages: string[]): Module => ({ path, pure, imports, packages, outside: [] });
        const found = impureReach([module("a/pure.ts", true, ["b/step.ts"], ["node:fs"]), module("b/step.ts", false, [], ["@pulumi/command"])]);
        assert.deepEqual(found, ["a/pure.ts -> b/step.ts -> @pulumi/command"]);
        assert.deepEqual(impureReach([module("a/step.ts", false, [], ["@pulumi/aws"])]), []);
    });
});
