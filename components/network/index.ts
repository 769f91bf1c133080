// IPv4 addresses and networks, on ipaddr.js: validation for config, and the addresses the
// providers lay out inside a network (local nodes, AWS subnets).
import * as ipaddr from "ipaddr.js";

/** A dotted-quad IPv4 address, like "10.0.0.10". */
export function isIpv4(value: string): boolean {
    return ipaddr.IPv4.isValidFourPartDecimal(value);
}

export interface Ipv4Network {
    /** The address as written (the network address when `isNetwork`). */
    address: string;
    prefix: number;
    /** The address is the network's first address (no host bits set). */
    isNetwork: boolean;
}

/** "a.b.c.d/n" parsed, or undefined when it is not an IPv4 CIDR. */
export function parseCidr(value: string): Ipv4Network | undefined {
    const [address, prefix, ...rest] = value.split("/");
    if (rest.length > 0 || !isIpv4(address) || !/^(3[0-2]|[12]?\d)$/.test(prefix ?? "")) return undefined;
    const network = ipaddr.IPv4.networkAddressFromCIDR(value).toString();
    return { address, prefix: Number(prefix), isNetwork: network === address };
}

const toNumber = (address: string): number => ipaddr.IPv4.parse(address).toByteArray().reduce((n, byte) => n * 256 + byte, 0);
const fromNumber = (n: number): string => [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join(".");

/** The address `offset` places after the network address of `cidr`; an error when outside it. */
export function addressAt(cidr: string, offset: number): string {
    const network = parseCidr(cidr);
    if (!network) throw new Error(`${cidr} is not an IPv4 network`);
    const size = 2 ** (32 - network.prefix);
    if (offset < 0 || offset >= size) throw new Error(`${cidr} has no address at offset ${offset} (it holds ${size})`);
    return fromNumber(toNumber(ipaddr.IPv4.networkAddressFromCIDR(cidr).toString()) + offset);
}

/** The `index`-th network of prefix `prefix` inside `cidr`, counted from its network address. */
export function subnetAt(cidr: string, prefix: number, index: number): string {
    const network = parseCidr(cidr);
    if (!network || prefix < network.prefix || prefix > 32) throw new Error(`${cidr} holds no /${prefix} networks`);
    return `${addressAt(cidr, index * 2 ** (32 - prefix))}/${prefix}`;
}

/** Whether two IPv4 networks share an address. */
export function overlaps(a: string, b: string): boolean {
    const range = (cidr: string): [number, number] => {
        const network = parseCidr(cidr);
        if (!network) throw new Error(`${cidr} is not an IPv4 network`);
        const start = toNumber(ipaddr.IPv4.networkAddressFromCIDR(cidr).toString());
        return [start, start + 2 ** (32 - network.prefix) - 1];
    };
    const [aStart, aEnd] = range(a);
    const [bStart, bEnd] = range(b);
    return aStart <= bEnd && bStart <= aEnd;
}
