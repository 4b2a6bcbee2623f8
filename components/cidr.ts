// CIDR parsing for security-group sources. Pure module.

import { isIPv4, isIPv6 } from "node:net";

/** A parsed CIDR block. */
export interface Cidr {
    readonly family: 4 | 6;
    /** The block in canonical form, e.g. `203.0.113.0/24` or `2001:db8::/32`. */
    readonly canonical: string;
    readonly prefixLength: number;
}

function ipv4ToBigInt(address: string): bigint {
    return address.split(".").reduce((acc, octet) => (acc << 8n) | BigInt(Number(octet)), 0n);
}

function ipv6ToBigInt(address: string): bigint {
    let text = address;
    // An embedded IPv4 tail (::ffff:192.0.2.1) becomes two hextets.
    const v4Tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
    if (v4Tail) {
        const v4 = ipv4ToBigInt(v4Tail[1]);
        text = `${text.slice(0, -v4Tail[1].length)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
    }
    const [head, tail] = text.includes("::") ? text.split("::") : [text, undefined];
    const headParts = head ? head.split(":") : [];
    const tailParts = tail ? tail.split(":") : [];
    const missing = 8 - headParts.length - tailParts.length;
    const parts = tail === undefined ? headParts : [...headParts, ...Array<string>(missing).fill("0"), ...tailParts];
    return parts.reduce((acc, part) => (acc << 16n) | BigInt(parseInt(part, 16)), 0n);
}

function ipv6FromBigInt(value: bigint): string {
    const hextets = Array.from({ length: 8 }, (_, i) => Number((value >> BigInt(16 * (7 - i))) & 0xffffn));
    // Compress the longest run of zero hextets (RFC 5952).
    let bestStart = -1;
    let bestLength = 0;
    for (let i = 0; i < 8; ) {
        if (hextets[i] !== 0) {
            i++;
            continue;
        }
        let j = i;
        while (j < 8 && hextets[j] === 0) j++;
        if (j - i > bestLength && j - i > 1) {
            bestStart = i;
            bestLength = j - i;
        }
        i = j;
    }
    const hex = hextets.map((h) => h.toString(16));
    if (bestStart < 0) {
        return hex.join(":");
    }
    return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLength).join(":")}`;
}

function ipv4FromBigInt(value: bigint): string {
    return [24n, 16n, 8n, 0n].map((shift) => Number((value >> shift) & 0xffn)).join(".");
}

/**
 * Parses `address/prefix`. Returns the parsed block, or a sentence saying what is wrong.
 * A block with host bits set is refused, because its intent is ambiguous.
 */
export function parseCidr(text: string): Cidr | string {
    const slash = text.indexOf("/");
    if (slash < 0) {
        return "is not a CIDR block (address/prefix, e.g. 203.0.113.0/24)";
    }
    const address = text.slice(0, slash);
    const prefixText = text.slice(slash + 1);
    const family = isIPv4(address) ? 4 : isIPv6(address) ? 6 : undefined;
    if (!family) {
        return `has an invalid address "${address}"`;
    }
    const bits = family === 4 ? 32 : 128;
    if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > bits) {
        return `has an invalid prefix length "/${prefixText}" (0 to ${bits})`;
    }
    const prefixLength = Number(prefixText);
    const value = family === 4 ? ipv4ToBigInt(address) : ipv6ToBigInt(address);
    const hostMask = (1n << BigInt(bits - prefixLength)) - 1n;
    const network = value & ~hostMask;
    const canonical = `${family === 4 ? ipv4FromBigInt(network) : ipv6FromBigInt(network)}/${prefixLength}`;
    if ((value & hostMask) !== 0n) {
        return `has host bits set; did you mean ${canonical}?`;
    }
    return { family, canonical, prefixLength };
}
