// Versions written in tests.

import assert from "node:assert/strict";
import { parseVersion, type Version } from "../../components/versions/versions";

/** Parses `x.y.z`, failing the test on a typo. */
export function version(text: string): Version {
    const parsed = parseVersion(text);
    assert.ok(parsed, `test version ${text} must parse`);
    return parsed;
}
