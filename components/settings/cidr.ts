// CIDR blocks for security-group sources: parsing, and how much of the internet a list of them
// admits together. Pure module; the policy pack (policy/rules.ts) judges with the same code.

import ipaddr from "ipaddr.js";

export type Family = 4 | 6;

const FAMILY_BITS: Readonly<Record<Family, number>> = { 4: 32, 6: 128 };

/** A parsed CIDR block. */
export interface Cidr {
    readonly family: Family;
    /** The block in canonical form, e.g. `203.0.113.0/24` or `2001:db8::/32`. */
    readonly canonical: string;
    readonly prefixLength: number;
    /** The block's first and last address, as numbers. */
    readonly first: bigint;
    readonly last: bigint;
    /** Whether the text had bits set below the prefix (`203.0.113.7/24`); `canonical` has them cleared. */
    readonly hostBitsSet: boolean;
}

function toNumber(address: ipaddr.IPv4 | ipaddr.IPv6): bigint {
    return address.toByteArray().reduce((value, byte) => (value << 8n) | BigInt(byte), 0n);
}

/**
 * Parses `address/prefix`. Returns the block, or a sentence saying what is wrong with the text.
 * IPv4 addresses must be four decimal parts: ipaddr.js also reads `10`, `0x0a.0.0.1` and octal
 * `010.0.0.1`, which EC2 would not read the same way, if at all.
 */
export function parseCidr(text: string): Cidr | string {
    const slash = text.indexOf("/");
    if (slash < 0) {
        return "is not a CIDR block (address/prefix, e.g. 203.0.113.0/24)";
    }
    const addressText = text.slice(0, slash);
    const prefixText = text.slice(slash + 1);
    const zone = addressText.indexOf("%");
    if (zone >= 0) {
        return `has an IPv6 zone id "${addressText.slice(zone)}", which names a link on one machine; a security group source is a plain block such as ${addressText.slice(0, zone)}/${prefixText}`;
    }
    const family: Family | undefined = ipaddr.IPv4.isValidFourPartDecimal(addressText) ? 4 : ipaddr.IPv6.isValid(addressText) ? 6 : undefined;
    if (family === undefined) {
        return `has an invalid address "${addressText}" (IPv4 as four decimal numbers, or IPv6)`;
    }
    const bits = FAMILY_BITS[family];
    if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > bits) {
        return `has an invalid prefix length "/${prefixText}" (0 to ${bits})`;
    }
    const prefixLength = Number(prefixText);
    const address = family === 4 ? ipaddr.IPv4.parse(addressText) : ipaddr.IPv6.parse(addressText);
    const network = family === 4 ? ipaddr.IPv4.networkAddressFromCIDR(`${addressText}/${prefixLength}`) : ipaddr.IPv6.networkAddressFromCIDR(`${addressText}/${prefixLength}`);
    const first = toNumber(network);
    const last = first | ((1n << BigInt(bits - prefixLength)) - 1n);
    return {
        family,
        canonical: `${network.toString()}/${prefixLength}`,
        prefixLength,
        first,
        last,
        hostBitsSet: toNumber(address) !== first,
    };
}

// --- Several blocks together -----------------------------------------------------------------------

/** An entry of a list that adds nothing: entry `index` repeats entry `coveredBy` (`same`) or lies inside it. */
export interface RedundantCidr {
    readonly index: number;
    readonly coveredBy: number;
    readonly same: boolean;
}

/**
 * The first entry that repeats an earlier one or lies inside any other. Two CIDR blocks are either
 * disjoint or one holds the other, so this finds every overlap.
 */
export function firstRedundantCidr(cidrs: readonly Cidr[]): RedundantCidr | undefined {
    for (let index = 0; index < cidrs.length; index++) {
        for (let other = 0; other < cidrs.length; other++) {
            const [a, b] = [cidrs[index], cidrs[other]];
            if (other === index || a.family !== b.family || a.first < b.first || a.last > b.last) {
                continue;
            }
            const same = a.prefixLength === b.prefixLength;
            // Of two equal blocks, the later one is the repeat.
            if (!same || other < index) {
                return { index, coveredBy: other, same };
            }
        }
    }
    return undefined;
}

/** Disjoint, sorted [first, last] ranges covering exactly what `ranges` cover. */
export function mergeRanges(ranges: readonly (readonly [bigint, bigint])[]): [bigint, bigint][] {
    const sorted = [...ranges].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const merged: [bigint, bigint][] = [];
    for (const [first, last] of sorted) {
        const previous = merged.at(-1);
        if (previous !== undefined && first <= previous[1] + 1n) {
            previous[1] = last > previous[1] ? last : previous[1];
        } else {
            merged.push([first, last]);
        }
    }
    return merged;
}

/** How many addresses disjoint `ranges` share with `block`. */
function sharedAddresses(ranges: readonly (readonly [bigint, bigint])[], block: Cidr): bigint {
    return ranges.reduce((sum, [first, last]) => {
        const from = first > block.first ? first : block.first;
        const to = last < block.last ? last : block.last;
        return to >= from ? sum + (to - from + 1n) : sum;
    }, 0n);
}

/**
 * Private-use blocks (RFC 1918, RFC 4193 unique local): the internet cannot reach a host from them,
 * so they do not count towards how much of it SSH is open to. An administrator may well allow all
 * of RFC 1918 for a VPN or a peered network.
 */
const PRIVATE_USE = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"].map((text) => parseCidr(text) as Cidr);

/**
 * The widest public share of an address family SSH may be open to, as a prefix length: what IANA
 * allocates a whole regional internet registry at once (a /8 of IPv4; a /12 of IPv6, by the
 * global IPv6 allocation policy). More public addresses than that are no organisation's own
 * networks, only a slice of the internet.
 */
export const WIDEST_PUBLIC_PREFIX: Readonly<Record<Family, number>> = { 4: 8, 6: 12 };

const FAMILY_NAME: Readonly<Record<Family, string>> = { 4: "IPv4", 6: "IPv6" };

/**
 * Why the blocks together admit too much of the internet, one sentence per address family, or
 * nothing when they do not: they cover the whole family (`0.0.0.0/1` and `128.0.0.0/1` are as open
 * as `0.0.0.0/0`), or more public addresses than WIDEST_PUBLIC_PREFIX. Judged on the union, so no
 * way of cutting a range into pieces changes the verdict.
 */
export function tooWideTogether(cidrs: readonly Cidr[]): string[] {
    const problems: string[] = [];
    for (const family of [4, 6] as const) {
        const blocks = cidrs.filter((cidr) => cidr.family === family);
        const union = mergeRanges(blocks.map((cidr) => [cidr.first, cidr.last]));
        const listed = blocks.length === 1 ? `${blocks[0].canonical} covers` : `${blocks.map((cidr) => cidr.canonical).join(" + ")} together cover`;
        const bits = FAMILY_BITS[family];
        const covered = union.reduce((sum, [first, last]) => sum + (last - first + 1n), 0n);
        if (covered === 1n << BigInt(bits)) {
            problems.push(`${listed} every ${FAMILY_NAME[family]} address: that is the whole internet`);
            continue;
        }
        const isPrivate = PRIVATE_USE.filter((block) => block.family === family).reduce((sum, block) => sum + sharedAddresses(union, block), 0n);
        const widest = WIDEST_PUBLIC_PREFIX[family];
        const limit = 1n << BigInt(bits - widest);
        if (covered - isPrivate > limit) {
            problems.push(
                `${listed} more public ${FAMILY_NAME[family]} addresses than a /${widest}, the block IANA gives a whole regional internet registry: ` +
                    "that is a slice of the internet, not an organisation's networks",
            );
        }
    }
    return problems;
}
