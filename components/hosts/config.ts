// The `hosts` provider's config: the machines you have (`hosts`) and the registry they pull the
// stacks' images from (`registry`).
import { isIpv4 } from "../network";
import { checkKeys, isObject, readInteger, readString, show } from "../checks";
import type { Role } from "../types";

/** A machine you have, as listed in the `hosts` config. */
export interface HostEntry {
    host: string;
    port: number;
    /** Default: `ssh.user`, else root. */
    user?: string;
    role: Role;
    privateAddress: string;
}

export interface RegistrySettings {
    /** Where this machine pushes the stacks' images: host[:port][/path]. */
    address: string;
    /** Where the machines pull them, when they reach the registry at another address. */
    pullAddress?: string;
}

const hostKeys = ["host", "port", "user", "role", "privateAddress"];

function validateHost(entry: unknown, key: string, problems: string[]): HostEntry | undefined {
    if (!isObject(entry)) {
        problems.push(`${key}: ${show(entry)} is not an object {host, port, user, role, privateAddress}`);
        return undefined;
    }
    checkKeys(entry, hostKeys, key, problems);
    const before = problems.length;
    const host = readString(entry.host, `${key}.host`, (s) => s.trim() !== "", "a host name or address", problems);
    const port = entry.port === undefined ? 22 : readInteger(entry.port, `${key}.port`, 1, 65535, problems, "a port number from 1 to 65535");
    const user = entry.user === undefined ? undefined : readString(entry.user, `${key}.user`, (s) => s.trim() !== "", "a user name", problems);
    if (entry.role !== "manager" && entry.role !== "worker") problems.push(`${key}.role: ${show(entry.role)} is not "manager" or "worker"`);
    const privateAddress = readString(entry.privateAddress, `${key}.privateAddress`, isIpv4, "an IPv4 address (the one other nodes reach it at)", problems);
    if (problems.length > before || host === undefined || port === undefined || privateAddress === undefined) return undefined;
    return { host, port, user, role: entry.role as Role, privateAddress };
}

/** The `hosts` list (required: the provider is "hosts"), each entry checked, none listed twice. */
export function validateHosts(raw: unknown, problems: string[]): HostEntry[] {
    if (raw === undefined) {
        problems.push("hosts: required when provider is \"hosts\": a list of {host, port, user, role, privateAddress}");
        return [];
    }
    if (!Array.isArray(raw)) {
        problems.push(`hosts: ${show(raw)} is not a list of {host, port, user, role, privateAddress}`);
        return [];
    }
    const entries = raw.map((entry, i) => validateHost(entry, `hosts[${i}]`, problems)).filter((e): e is HostEntry => e !== undefined);
    const seen = new Set<string>();
    for (const entry of entries) {
        const id = `${entry.host}:${entry.port}`;
        if (seen.has(id)) problems.push(`hosts: ${id} is listed twice`);
        seen.add(id);
    }
    return entries;
}

const registryAddress = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d{1,5})?(\/[a-z0-9._-]+)*$/i;

export function validateRegistry(raw: unknown, problems: string[]): RegistrySettings | undefined {
    if (raw === undefined) return undefined;
    if (!isObject(raw)) {
        problems.push(`registry: ${show(raw)} is not an object {address, pullAddress}`);
        return undefined;
    }
    checkKeys(raw, ["address", "pullAddress"], "registry", problems);
    const read = (key: "address" | "pullAddress") =>
        readString(raw[key], `registry.${key}`, (s) => registryAddress.test(s), "a registry address (host[:port][/path], like \"registry.example.com:5000\")", problems);
    const address = read("address");
    const pullAddress = raw.pullAddress === undefined ? undefined : read("pullAddress");
    return address ? { address, ...(pullAddress ? { pullAddress } : {}) } : undefined;
}
