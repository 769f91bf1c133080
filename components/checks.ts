// The checks every part of the configuration uses (config/ and each provider's config.ts): each
// records a problem that names the key, the bad value (see show: only the shape of one that may
// be secret) and what is allowed, and returns the value read (or undefined).
import { RunError } from "@pulumi/pulumi/errors";
import { parseCidr } from "./network";

/** A RunError: Pulumi shows its message alone, without a stack trace of the program. */
export class ConfigError extends RunError {
    constructor(public readonly problems: string[]) {
        super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
        this.name = "ConfigError";
    }
}

/** Keys whose values may be secrets: the ssh, tls and auth sections, and any key named like a key, token, password or secret. */
const secretKey = /^(ssh|tls|auth)\b|(key|tokens?|passwords?|secrets?)(\[\d+\])?$/i;
/** Longest value a message shows: longer ones (keys, certificates, tokens) are described instead. */
const maxShown = 40;

/**
 * A value as a message shows it: as JSON when short, on one line and not under a secret key
 * (`key`); otherwise only its type and size, so a message (and the CI log it lands in) never
 * holds a secret that was put in the wrong place.
 */
export function show(value: unknown, key = ""): string {
    const text = JSON.stringify(value) ?? String(value);
    const harmless = value === null || value === undefined || typeof value === "boolean";
    if (harmless || (!secretKey.test(key) && text.length <= maxShown && !/\\[nr]/.test(text))) return text;
    const lines = typeof value === "string" ? value.split("\n").length : 1;
    const count = (n: number, noun: string) => `${n} ${noun}${n === 1 ? "" : "s"}`;
    const shape = typeof value === "string" ? `a string of ${count(value.length, "character")}${lines > 1 ? ` on ${lines} lines` : ""}`
        : Array.isArray(value) ? `a list of ${count(value.length, "item")}`
            : isObject(value) ? `an object with keys ${Object.keys(value).join(", ")}`
                : `a ${typeof value}`;
    return `${shape} (not shown)`;
}

export function isObject(value: unknown): value is Record<string, unknown> {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function isInteger(value: unknown): value is number {
    return typeof value === "number" && Number.isInteger(value);
}

/** Config values set with `pulumi config set` arrive as strings: numbers are read from them. */
export function asNumber(value: unknown): unknown {
    return typeof value === "string" && /^-?\d+$/.test(value.trim()) ? Number(value) : value;
}

/** Lower-case letters, digits, '-' and '_', starting with a letter or digit: a Docker stack or service name. */
export const dockerName = /^[a-z0-9][a-z0-9_-]*$/;

/** An IPv4 network address with a prefix from `min` to `max`, like "10.213.0.0/24". */
export function isNetwork(value: unknown, min: number, max: number): value is string {
    const network = typeof value === "string" ? parseCidr(value) : undefined;
    return network !== undefined && network.isNetwork && network.prefix >= min && network.prefix <= max;
}

/** An IPv4 address with a prefix length, like "203.0.113.7/32". */
export const isCidr = (value: unknown): value is string => typeof value === "string" && parseCidr(value) !== undefined;

/** Reports each key of `raw` that is not `allowed`, as `<where>.<key>`. */
export function checkKeys(raw: Record<string, unknown>, allowed: readonly string[], where: string, problems: string[]): void {
    for (const key of Object.keys(raw)) {
        if (!allowed.includes(key)) problems.push(`${where}.${key}: unknown key; allowed: ${allowed.join(", ")}`);
    }
}

/** An integer from `min` to `max` (given as a number or as its text). */
export function readInteger(value: unknown, key: string, min: number, max: number, problems: string[], what = `an integer from ${min} to ${max}`): number | undefined {
    const number = asNumber(value);
    if (isInteger(number) && number >= min && number <= max) return number;
    problems.push(`${key}: ${show(value, key)} is not ${what}`);
    return undefined;
}

export function readBoolean(value: unknown, key: string, problems: string[]): boolean | undefined {
    if (typeof value === "boolean") return value;
    problems.push(`${key}: ${show(value, key)} is not true or false`);
    return undefined;
}

/** A string that passes `test`; `what` says what it should be. */
export function readString(value: unknown, key: string, test: (text: string) => boolean, what: string, problems: string[]): string | undefined {
    if (typeof value === "string" && test(value)) return value;
    problems.push(`${key}: ${show(value, key)} is not ${what}`);
    return undefined;
}

/** One of `allowed`. */
export function readChoice<T extends string>(value: unknown, key: string, allowed: readonly T[], problems: string[]): T | undefined {
    if (typeof value === "string" && (allowed as readonly string[]).includes(value)) return value as T;
    problems.push(`${key}: ${show(value, key)} is not one of ${allowed.join(", ")}`);
    return undefined;
}

/** Service name -> replica count (integers >= 0), as `replicas` and `stacks.<name>.replicas` give them. */
export function readReplicas(value: unknown, key: string, problems: string[]): Record<string, number> {
    const replicas: Record<string, number> = {};
    if (value === undefined) return replicas;
    if (!isObject(value)) {
        problems.push(`${key}: ${show(value, key)} is not a map of service name to replica count`);
        return replicas;
    }
    for (const [service, count] of Object.entries(value)) {
        const number = readInteger(count, `${key}.${service}`, 0, Number.MAX_SAFE_INTEGER, problems, "an integer >= 0");
        if (number !== undefined) replicas[service] = number;
    }
    return replicas;
}
