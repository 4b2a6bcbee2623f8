// Tests for components/settings/cidr.ts: parsing against an independent bit-level model, and the judgement of
// several blocks together, as properties over generated lists.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { firstRedundantCidr, mergeRanges, parseCidr, tooWideTogether, type Cidr } from "../../../components/settings/cidr";
import { ConfigError } from "../../../components/stack/config";
import { parseConfig, stackConfig } from "../../support/stackConfig";

function parsed(text: string): Cidr {
    const cidr = parseCidr(text);
    assert.ok(typeof cidr !== "string", `${text}: ${cidr}`);
    return cidr;
}

const bits = { 4: 32, 6: 128 } as const;

/** An IPv4 block as four octets and a prefix, with its number worked out here rather than by the module. */
const ipv4Block = fc.record({ octets: fc.array(fc.nat(255), { minLength: 4, maxLength: 4 }), prefix: fc.integer({ min: 0, max: 32 }) });
const numberOf = (octets: readonly number[]) => octets.reduce((value, octet) => (value << 8n) | BigInt(octet), 0n);

/** Splits `block` at random into smaller blocks that together cover exactly it. */
function partition(family: 4 | 6, first: bigint, prefix: number, choices: readonly boolean[], at = { i: 0 }): string[] {
    // Each choice is used once, so there are at most choices.length + 1 pieces.
    const split = prefix < bits[family] && at.i < choices.length && choices[at.i++];
    if (!split) {
        return [canonicalText(family, first, prefix)];
    }
    const half = 1n << BigInt(bits[family] - prefix - 1);
    return [...partition(family, first, prefix + 1, choices, at), ...partition(family, first + half, prefix + 1, choices, at)];
}

function canonicalText(family: 4 | 6, first: bigint, prefix: number): string {
    if (family === 4) {
        return `${[24n, 16n, 8n, 0n].map((shift) => (first >> shift) & 255n).join(".")}/${prefix}`;
    }
    const hextets = Array.from({ length: 8 }, (_, i) => ((first >> BigInt(16 * (7 - i))) & 0xffffn).toString(16));
    return `${hextets.join(":")}/${prefix}`;
}

const wholeFamily = (problems: readonly string[], family: "IPv4" | "IPv6") => problems.some((problem) => problem.includes(`every ${family} address`));

describe("parseCidr", () => {
    it("agrees with a bit-level model of any IPv4 block: network, last address, host bits", () => {
        fc.assert(
            fc.property(ipv4Block, ({ octets, prefix }) => {
                const value = numberOf(octets);
                const hostMask = (1n << BigInt(32 - prefix)) - 1n;
                const cidr = parsed(`${octets.join(".")}/${prefix}`);
                assert.equal(cidr.family, 4);
                assert.equal(cidr.prefixLength, prefix);
                assert.equal(cidr.first, value & ~hostMask);
                assert.equal(cidr.last, (value & ~hostMask) | hostMask);
                assert.equal(cidr.hostBitsSet, (value & hostMask) !== 0n);
                assert.equal(cidr.canonical, canonicalText(4, value & ~hostMask, prefix));
                // The canonical form reads back as itself.
                assert.equal(parsed(cidr.canonical).canonical, cidr.canonical);
            }),
        );
    });

    it("reads every spelling of an IPv6 block as the same block", () => {
        fc.assert(
            fc.property(fc.array(fc.nat(0xffff), { minLength: 8, maxLength: 8 }), fc.integer({ min: 0, max: 128 }), (hextets, prefix) => {
                const full = hextets.map((h) => h.toString(16).toUpperCase().padStart(4, "0")).join(":");
                const plain = parsed(`${full}/${prefix}`);
                assert.equal(parsed(plain.canonical).canonical, plain.canonical);
                assert.equal(parsed(`${full.toLowerCase()}/${prefix}`).first, plain.first);
                assert.equal(plain.last - plain.first, (1n << BigInt(128 - prefix)) - 1n);
            }),
        );
    });

    it("never throws: any text is a block or a sentence saying what is wrong", () => {
        const cidrish = fc.stringMatching(/^[0-9a-fA-FxX.:%/+\- ]{0,24}$/);
        fc.assert(
            fc.property(fc.oneof(cidrish, fc.string(), fc.constantFrom("fe80::%eth0/64", "fe80::1%25/10", "::ffff:1.2.3.4%x/96", "1.2.3.4/08")), (text) => {
                const result = parseCidr(text);
                assert.ok(typeof result === "object" || (typeof result === "string" && result.length > 10));
            }),
        );
    });

    it("refuses a zone id, naming it and the block meant", () => {
        assert.match(parseCidr("fe80::%eth0/64") as string, /zone id "%eth0".*fe80::\/64/);
    });
});

describe("ssh.allowedCidrs: any text is accepted or refused with a ConfigError naming the key", () => {
    it("holds for generated lists", () => {
        const entry = fc.oneof(fc.stringMatching(/^[0-9a-f.:%/]{1,20}$/), ipv4Block.map(({ octets, prefix }) => `${octets.join(".")}/${prefix}`));
        fc.assert(
            fc.property(fc.array(entry, { minLength: 1, maxLength: 4 }), (allowedCidrs) => {
                try {
                    parseConfig(stackConfig("single", { ssh: { allowedCidrs } }));
                } catch (error) {
                    assert.ok(error instanceof ConfigError, `not a ConfigError: ${String(error)}`);
                    assert.match(error.message, /^gitlab-mattermost:ssh\.allowedCidrs(\[\d\])? /);
                }
            }),
        );
    });
});

describe("tooWideTogether", () => {
    it("refuses any cutting of a whole address family into blocks, in any order", () => {
        for (const family of [4, 6] as const) {
            fc.assert(
                fc.property(fc.array(fc.boolean(), { minLength: 1, maxLength: 64 }), fc.integer(), (choices, seed) => {
                    const pieces = partition(family, 0n, 0, choices).map(parsed);
                    const shuffled = [...pieces].sort((a, b) => ((Number(a.first % 1000n) * 31 + seed) % 7) - ((Number(b.first % 1000n) * 31 + seed) % 7));
                    assert.ok(wholeFamily(tooWideTogether(shuffled), family === 4 ? "IPv4" : "IPv6"), pieces.map((p) => p.canonical).join(" "));
                }),
            );
        }
    });

    it("does not call a family whole once any one piece is missing", () => {
        fc.assert(
            fc.property(fc.array(fc.boolean(), { minLength: 2, maxLength: 64 }), fc.nat(), (choices, drop) => {
                const pieces = partition(4, 0n, 0, [true, ...choices]).map(parsed);
                const without = pieces.toSpliced(drop % pieces.length, 1);
                assert.ok(!wholeFamily(tooWideTogether(without), "IPv4"));
            }),
        );
    });

    it("never accepts a list again once it refused it, whatever is added", () => {
        const block = ipv4Block.map(({ octets, prefix }) => parsed(`${octets.join(".")}/${prefix}`));
        fc.assert(
            fc.property(fc.array(block, { minLength: 1, maxLength: 6 }), fc.array(block, { maxLength: 4 }), (list, extra) => {
                if (tooWideTogether(list).length > 0) {
                    assert.ok(tooWideTogether([...list, ...extra]).length > 0);
                }
            }),
        );
    });

    it("accepts up to a /8 of public IPv4 and a /12 of public IPv6, however it is cut", () => {
        const v4 = ipv4Block.filter(({ prefix }) => prefix >= 9).map(({ octets, prefix }) => parsed(`${octets.join(".")}/${prefix}`));
        const v6 = fc.tuple(fc.nat(0xffff), fc.integer({ min: 13, max: 128 })).map(([top, prefix]) => parsed(`${top.toString(16)}::/${Math.max(prefix, 16)}`));
        fc.assert(
            fc.property(fc.array(v4, { maxLength: 2 }), fc.array(v6, { maxLength: 2 }), (a, b) => {
                assert.deepEqual(tooWideTogether([...a, ...b]), []);
            }),
        );
        assert.deepEqual(tooWideTogether(["11.0.0.0/9", "11.128.0.0/9"].map(parsed)), [], "exactly a /8 is allowed");
        assert.equal(tooWideTogether(["11.0.0.0/9", "11.128.0.0/9", "12.0.0.0/32"].map(parsed)).length, 1, "one address more is not");
    });

    it("does not count private-use addresses (RFC 1918, unique local IPv6)", () => {
        const privateBlocks = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"].map(parsed);
        assert.deepEqual(tooWideTogether([...privateBlocks, parsed("203.0.113.0/24")]), []);
        // The whole family is refused even though some of it is private.
        assert.equal(tooWideTogether(["0.0.0.0/1", "128.0.0.0/1"].map(parsed)).length, 1);
        assert.equal(tooWideTogether(["8.0.0.0/7"].map(parsed)).length, 1);
    });
});

describe("IPv6 lists are judged as IPv4 lists are", () => {
    // The configuration refuses IPv6, but the policy pack judges any security group it sees with this module.
    it("whole family, halves, more than a /12, and private use", () => {
        assert.deepEqual(tooWideTogether([parsed("::/0")]), ["::/0 covers every IPv6 address: that is the whole internet"]);
        const halves = tooWideTogether(["203.0.113.0/24", "8000::/1", "::/1"].map(parsed));
        assert.equal(halves.length, 1);
        assert.match(halves[0], /^8000::\/1 \+ ::\/1 together cover every IPv6 address/);
        assert.match(tooWideTogether([parsed("2000::/11")]).join(), /^2000::\/11 covers more public IPv6 addresses than a \/12/);
        assert.deepEqual(tooWideTogether([parsed("2000::/12")]), []);
        assert.deepEqual(tooWideTogether(["fd00::/8", "fc00::/8", "2001:db8::/32"].map(parsed)), []);
    });

    it("repeats and nested blocks, however they are spelled", () => {
        assert.deepEqual(firstRedundantCidr(["2001:db8::/48", "2001:DB8:0:0::/48"].map(parsed)), { index: 1, coveredBy: 0, same: true });
        assert.deepEqual(firstRedundantCidr(["2001:db8:1::/64", "2001:db8::/32"].map(parsed)), { index: 0, coveredBy: 1, same: false });
        // Families never overlap: ::ffff:0:0/96 holds IPv4-mapped addresses, but is not the IPv4 space.
        assert.equal(firstRedundantCidr(["0.0.0.0/8", "::/64"].map(parsed)), undefined);
    });
});

describe("mergeRanges", () => {
    it("covers exactly the addresses of its input, in disjoint sorted ranges", () => {
        const range = fc.tuple(fc.nat(300), fc.nat(40)).map(([first, length]) => [BigInt(first), BigInt(first + length)] as const);
        fc.assert(
            fc.property(fc.array(range, { maxLength: 8 }), (ranges) => {
                const expected = new Set(ranges.flatMap(([first, last]) => Array.from({ length: Number(last - first) + 1 }, (_, i) => Number(first) + i)));
                const merged = mergeRanges(ranges);
                const covered = merged.flatMap(([first, last]) => Array.from({ length: Number(last - first) + 1 }, (_, i) => Number(first) + i));
                assert.deepEqual(covered, [...expected].sort((a, b) => a - b));
                merged.slice(1).forEach(([first], i) => assert.ok(first > merged[i][1] + 1n, "ranges neither touch nor overlap"));
            }),
        );
    });
});

describe("firstRedundantCidr", () => {
    it("finds a repeat or a nested block wherever it is, and nothing in disjoint lists", () => {
        assert.deepEqual(firstRedundantCidr(["10.0.0.0/8", "10.0.0.0/8"].map(parsed)), { index: 1, coveredBy: 0, same: true });
        assert.deepEqual(firstRedundantCidr(["10.1.0.0/16", "10.0.0.0/8"].map(parsed)), { index: 0, coveredBy: 1, same: false });
        assert.deepEqual(firstRedundantCidr(["10.0.0.0/8", "::/1", "10.1.0.0/16"].map(parsed)), { index: 2, coveredBy: 0, same: false });
        fc.assert(
            fc.property(fc.uniqueArray(fc.nat(255), { maxLength: 10 }), (thirdOctets) => {
                assert.equal(firstRedundantCidr(thirdOctets.map((octet) => parsed(`198.51.${octet}.0/24`))), undefined);
            }),
        );
    });
});
