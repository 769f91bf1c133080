// The project's configuration (namespace `swarm`): parsed and validated before any resource is
// made. Every error names the key, the bad value and what is allowed.
import { RunError } from "@pulumi/pulumi/errors";
import type { AwsMachineSettings } from "../aws";
import { isIpv4, parseCidr } from "../network";

export const providers = ["local", "aws", "hosts"] as const;
export type ProviderName = (typeof providers)[number];
export type Role = "manager" | "worker";
export const maxManagers = 7;

export interface LocalSettings {
    /** Base image of the node image (a pulled tag, or the one made offline by scripts/build-base-image.sh). */
    baseImage: string;
    /** Subnet of the nodes' bridge network; nodes get static addresses in it. */
    subnet: string;
    /** Host port (on 127.0.0.1) of manager 0's SSH; other nodes count up from it. */
    sshPortBase: number;
    /** `auto` tries --privileged and falls back to an explicit capability set. */
    privileged: "auto" | "always" | "never";
    /** Port on 127.0.0.1 of the registry that stack images are pushed to. */
    registryPort: number;
}

export interface HostEntry {
    host: string;
    port: number;
    /** Default: `ssh.user`, else root. */
    user?: string;
    role: Role;
    privateAddress: string;
}

export interface RegistrySettings {
    /** Where this machine pushes the stack's images: host[:port][/path]. */
    address: string;
    /** Where the machines pull them, when they reach the registry at another address. */
    pullAddress?: string;
}

export interface SshSettings {
    user?: string;
    publicKey?: string;
    /** `ssh.privateKey` (a secret in config): never put into a message; it reaches the machines' commands as a secret. */
    privateKey?: string;
}

/** The `aws` config: the AWS provider's settings, and the opt-in that validation needs. */
export interface AwsSettings extends AwsMachineSettings {
    /** Opt-in that allows 0.0.0.0/0 in sshAllowedCidrs. */
    allowSshFromAnywhere: boolean;
}

export const awsDefaults: Omit<AwsSettings, "sshAllowedCidrs" | "ingressCidrs"> = {
    allowSshFromAnywhere: false,
    vpcCidr: "10.20.0.0/16",
    availabilityZones: 3,
    managerInstanceType: "t3.small",
    workerInstanceType: "t3.medium",
    spotWorkers: false,
    volumeSize: 30,
};

/** An IPv4 address with a prefix length, like "203.0.113.7/32". */
const isCidr = (value: string): boolean => parseCidr(value) !== undefined;

/** A network address with a prefix from `min` to `max`, like "10.213.0.0/24". */
function isNetwork(value: unknown, min: number, max: number): value is string {
    const network = typeof value === "string" ? parseCidr(value) : undefined;
    return network !== undefined && network.isNetwork && network.prefix >= min && network.prefix <= max;
}

function validateAws(raw: unknown, required: boolean, region: string | undefined, problems: string[]): AwsSettings | undefined {
    if (raw === undefined && !required) return undefined;
    if (!isObject(raw)) {
        problems.push(raw === undefined
            ? "aws: required when provider is \"aws\", with at least aws.sshAllowedCidrs (the CIDRs allowed to reach SSH, e.g. [\"203.0.113.7/32\"])"
            : `aws: ${show(raw)} is not an object`);
        return undefined;
    }
    const allowed = ["sshAllowedCidrs", "ingressCidrs", ...Object.keys(awsDefaults), "vpcId", "subnetIds", "ami"];
    for (const key of Object.keys(raw)) {
        if (!allowed.includes(key)) problems.push(`aws.${key}: unknown key; allowed: ${allowed.join(", ")}`);
    }
    if (required && !region) problems.push("aws:region: required when provider is \"aws\" (`pulumi config set aws:region eu-west-1`)");
    const settings: AwsSettings = { ...awsDefaults, sshAllowedCidrs: [], ingressCidrs: [] };
    if (raw.allowSshFromAnywhere !== undefined) {
        if (typeof raw.allowSshFromAnywhere !== "boolean") problems.push(`aws.allowSshFromAnywhere: ${show(raw.allowSshFromAnywhere)} is not true or false`);
        else settings.allowSshFromAnywhere = raw.allowSshFromAnywhere;
    }
    const cidrList = (key: "sshAllowedCidrs" | "ingressCidrs"): string[] | undefined => {
        const value = raw[key];
        if (!Array.isArray(value) || value.length === 0 || !value.every((c) => typeof c === "string" && isCidr(c))) {
            problems.push(`aws.${key}: ${show(value)} is not a non-empty list of IPv4 CIDRs (like ["203.0.113.7/32"])`);
            return undefined;
        }
        return value as string[];
    };
    if (raw.sshAllowedCidrs === undefined) {
        problems.push("aws.sshAllowedCidrs: required: the CIDRs allowed to reach SSH on the machines, like [\"203.0.113.7/32\"]");
    } else {
        const list = cidrList("sshAllowedCidrs");
        if (list) {
            settings.sshAllowedCidrs = list;
            if (list.some((c) => c.endsWith("/0")) && !settings.allowSshFromAnywhere) {
                problems.push(`aws.sshAllowedCidrs: ${show(list)} opens SSH to the whole internet; narrow it, or set aws.allowSshFromAnywhere to true to mean it`);
            }
        }
    }
    settings.ingressCidrs = raw.ingressCidrs === undefined ? settings.sshAllowedCidrs : cidrList("ingressCidrs") ?? [];
    if (raw.vpcCidr !== undefined) {
        // A VPC is /16 to /28, and it must hold a /24 subnet for each of up to three zones.
        if (!isNetwork(raw.vpcCidr, 16, 22)) {
            problems.push(`aws.vpcCidr: ${show(raw.vpcCidr)} is not an IPv4 network address with a prefix from /16 to /22 (like "10.20.0.0/16")`);
        } else settings.vpcCidr = raw.vpcCidr;
    }
    if (raw.availabilityZones !== undefined) {
        const value = asNumber(raw.availabilityZones);
        if (!isInteger(value) || value < 1 || value > 3) problems.push(`aws.availabilityZones: ${show(raw.availabilityZones)} is not 1, 2 or 3`);
        else settings.availabilityZones = value;
    }
    if ((raw.vpcId === undefined) !== (raw.subnetIds === undefined)) {
        problems.push("aws.vpcId and aws.subnetIds: give both (an existing VPC and its public subnets) or neither (a new VPC)");
    }
    if (raw.vpcId !== undefined) {
        if (typeof raw.vpcId !== "string" || !/^vpc-[0-9a-f]+$/.test(raw.vpcId)) problems.push(`aws.vpcId: ${show(raw.vpcId)} is not a VPC id (vpc-...)`);
        else settings.vpcId = raw.vpcId;
    }
    if (raw.subnetIds !== undefined) {
        if (!Array.isArray(raw.subnetIds) || raw.subnetIds.length === 0 || !raw.subnetIds.every((s) => typeof s === "string" && /^subnet-[0-9a-f]+$/.test(s))) {
            problems.push(`aws.subnetIds: ${show(raw.subnetIds)} is not a non-empty list of subnet ids (subnet-...)`);
        } else settings.subnetIds = raw.subnetIds as string[];
    }
    if (raw.ami !== undefined) {
        if (typeof raw.ami !== "string" || !/^ami-[0-9a-f]+$/.test(raw.ami)) problems.push(`aws.ami: ${show(raw.ami)} is not an AMI id (ami-...)`);
        else settings.ami = raw.ami;
    }
    for (const key of ["managerInstanceType", "workerInstanceType"] as const) {
        if (raw[key] !== undefined) {
            if (typeof raw[key] !== "string" || !/^[a-z0-9-]+\.[a-z0-9]+$/.test(raw[key] as string)) problems.push(`aws.${key}: ${show(raw[key])} is not an instance type (like "t3.medium")`);
            else settings[key] = raw[key] as string;
        }
    }
    if (raw.spotWorkers !== undefined) {
        if (typeof raw.spotWorkers !== "boolean") problems.push(`aws.spotWorkers: ${show(raw.spotWorkers)} is not true or false`);
        else settings.spotWorkers = raw.spotWorkers;
    }
    if (raw.volumeSize !== undefined) {
        const value = asNumber(raw.volumeSize);
        if (!isInteger(value) || value < 8 || value > 16384) problems.push(`aws.volumeSize: ${show(raw.volumeSize)} is not a size in GiB from 8 to 16384`);
        else settings.volumeSize = value;
    }
    return settings;
}

export interface SwarmConfig {
    provider: ProviderName;
    managers: number;
    workers: number;
    replicas: Record<string, number>;
    stackName: string;
    local: LocalSettings;
    hosts: HostEntry[];
    ssh: SshSettings;
    /** A registry the machines pull stack images from (provider "hosts"). */
    registry?: RegistrySettings;
    /** Present when provider is "aws" (or when aws settings are given). */
    aws?: AwsSettings;
    taxonomyFile?: string;
    /** Your own Compose stacks, deployed beside the built-in one: stack name -> file and replica overrides. */
    stacks: Record<string, StackSettings>;
}

export interface StackSettings {
    /** The Compose file: relative to the project directory, or absolute. */
    file: string;
    /** Service name -> replica count, overriding the file's `deploy.replicas`. */
    replicas: Record<string, number>;
}

/** The raw values as read from the stack's config (parsed JSON for objects). */
export interface RawConfig {
    /** The standard `aws:region` setting. */
    awsRegion?: string;
    provider?: unknown;
    managers?: unknown;
    workers?: unknown;
    replicas?: unknown;
    stackName?: unknown;
    local?: unknown;
    hosts?: unknown;
    ssh?: unknown;
    aws?: unknown;
    taxonomyFile?: unknown;
    registry?: unknown;
    stacks?: unknown;
    /** Keys set in the program's config namespace that it does not know, with the namespace. */
    unknownKeys?: string[];
}

/** A RunError: Pulumi shows its message alone, without a stack trace of the program. */
export class ConfigError extends RunError {
    constructor(public readonly problems: string[]) {
        super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
        this.name = "ConfigError";
    }
}

export const localDefaults: LocalSettings = {
    baseImage: "debian:bookworm-slim",
    subnet: "10.213.0.0/24",
    sshPortBase: 2200,
    privileged: "auto",
    registryPort: 5000,
};

const show = (value: unknown): string => JSON.stringify(value) ?? String(value);

export function isObject(value: unknown): value is Record<string, unknown> {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isInteger(value: unknown): value is number {
    return typeof value === "number" && Number.isInteger(value);
}

/** Config values set with `pulumi config set` arrive as strings: numbers are read from them. */
function asNumber(value: unknown): unknown {
    return typeof value === "string" && /^-?\d+$/.test(value.trim()) ? Number(value) : value;
}

const dockerName = /^[a-z0-9][a-z0-9_-]*$/;

function validateLocal(raw: unknown, problems: string[]): LocalSettings {
    if (raw === undefined) return { ...localDefaults };
    if (!isObject(raw)) {
        problems.push(`local: ${show(raw)} is not an object; allowed keys: ${Object.keys(localDefaults).join(", ")}`);
        return { ...localDefaults };
    }
    const settings = { ...localDefaults };
    for (const key of Object.keys(raw)) {
        if (!(key in localDefaults)) {
            problems.push(`local.${key}: unknown key; allowed: ${Object.keys(localDefaults).join(", ")}`);
        }
    }
    if (raw.baseImage !== undefined) {
        if (typeof raw.baseImage !== "string" || raw.baseImage.trim() === "") {
            problems.push(`local.baseImage: ${show(raw.baseImage)} is not an image reference`);
        } else settings.baseImage = raw.baseImage;
    }
    if (raw.subnet !== undefined) {
        if (!isNetwork(raw.subnet, 8, 24)) {
            problems.push(`local.subnet: ${show(raw.subnet)} is not an IPv4 network address with a prefix from /8 to /24 (like "10.213.0.0/24")`);
        } else settings.subnet = raw.subnet;
    }
    if (raw.sshPortBase !== undefined) {
        const port = asNumber(raw.sshPortBase);
        if (!isInteger(port) || port < 1024 || port > 65000) {
            problems.push(`local.sshPortBase: ${show(raw.sshPortBase)} is not an integer from 1024 to 65000`);
        } else settings.sshPortBase = port;
    }
    if (raw.registryPort !== undefined) {
        const port = asNumber(raw.registryPort);
        if (!isInteger(port) || port < 1024 || port > 65535) {
            problems.push(`local.registryPort: ${show(raw.registryPort)} is not an integer from 1024 to 65535`);
        } else settings.registryPort = port;
    }
    if (raw.privileged !== undefined) {
        const allowed = ["auto", "always", "never"];
        if (typeof raw.privileged !== "string" || !allowed.includes(raw.privileged)) {
            problems.push(`local.privileged: ${show(raw.privileged)} is not one of ${allowed.join(", ")}`);
        } else settings.privileged = raw.privileged as LocalSettings["privileged"];
    }
    return settings;
}

/** The `stacks` map: names and shapes only; the files are read by loadComposeStacks. */
function validateStacks(raw: unknown, builtInStack: string, problems: string[]): Record<string, StackSettings> {
    const stacks: Record<string, StackSettings> = {};
    if (raw === undefined) return stacks;
    if (!isObject(raw)) {
        problems.push(`stacks: ${show(raw)} is not a map of stack name to {file, replicas}`);
        return stacks;
    }
    for (const [name, entry] of Object.entries(raw)) {
        const key = `stacks.${name}`;
        const before = problems.length;
        if (!dockerName.test(name) || name.length > 40) {
            problems.push(`${key}: ${show(name)} is not a Docker stack name (lower-case letters, digits, '-' and '_', at most 40)`);
        } else if (name === builtInStack) {
            problems.push(`${key}: clashes with the built-in stack ${show(builtInStack)} (stackName); choose another name`);
        }
        if (!isObject(entry)) {
            problems.push(`${key}: ${show(entry)} is not an object {file, replicas}`);
            continue;
        }
        for (const k of Object.keys(entry)) {
            if (k !== "file" && k !== "replicas") problems.push(`${key}.${k}: unknown key; allowed: file, replicas`);
        }
        if (entry.file === undefined) problems.push(`${key}.file: required: the path to the stack's Compose file`);
        else if (typeof entry.file !== "string" || entry.file.trim() === "") problems.push(`${key}.file: ${show(entry.file)} is not a path to a Compose file`);
        const replicas: Record<string, number> = {};
        if (entry.replicas !== undefined && !isObject(entry.replicas)) {
            problems.push(`${key}.replicas: ${show(entry.replicas)} is not a map of service name to replica count`);
        } else {
            for (const [service, count] of Object.entries(entry.replicas ?? {})) {
                const value = asNumber(count);
                if (!isInteger(value) || value < 0) problems.push(`${key}.replicas.${service}: ${show(count)} is not an integer >= 0`);
                else replicas[service] = value;
            }
        }
        if (problems.length === before) stacks[name] = { file: entry.file as string, replicas };
    }
    return stacks;
}

function validateHosts(raw: unknown, provider: ProviderName | undefined, problems: string[]): HostEntry[] {
    if (raw === undefined) {
        if (provider === "hosts") problems.push("hosts: required when provider is \"hosts\": a list of {host, port, user, role, privateAddress}");
        return [];
    }
    if (!Array.isArray(raw)) {
        problems.push(`hosts: ${show(raw)} is not a list of {host, port, user, role, privateAddress}`);
        return [];
    }
    const entries: HostEntry[] = [];
    raw.forEach((entry, i) => {
        const key = `hosts[${i}]`;
        if (!isObject(entry)) {
            problems.push(`${key}: ${show(entry)} is not an object {host, port, user, role, privateAddress}`);
            return;
        }
        const allowedKeys = ["host", "port", "user", "role", "privateAddress"];
        for (const k of Object.keys(entry)) {
            if (!allowedKeys.includes(k)) problems.push(`${key}.${k}: unknown key; allowed: ${allowedKeys.join(", ")}`);
        }
        const before = problems.length;
        if (typeof entry.host !== "string" || entry.host.trim() === "") {
            problems.push(`${key}.host: ${show(entry.host)} is not a host name or address`);
        }
        const port = entry.port === undefined ? 22 : asNumber(entry.port);
        if (!isInteger(port) || port < 1 || port > 65535) {
            problems.push(`${key}.port: ${show(entry.port)} is not a port number from 1 to 65535`);
        }
        if (entry.user !== undefined && (typeof entry.user !== "string" || entry.user.trim() === "")) {
            problems.push(`${key}.user: ${show(entry.user)} is not a user name`);
        }
        if (entry.role !== "manager" && entry.role !== "worker") {
            problems.push(`${key}.role: ${show(entry.role)} is not "manager" or "worker"`);
        }
        const address = entry.privateAddress;
        if (typeof address !== "string" || !isIpv4(address)) {
            problems.push(`${key}.privateAddress: ${show(address)} is not an IPv4 address (the one other nodes reach it at)`);
        }
        if (problems.length === before) {
            entries.push({
                host: entry.host as string,
                port: port as number,
                user: entry.user as string | undefined,
                role: entry.role as Role,
                privateAddress: address as string,
            });
        }
    });
    const seen = new Set<string>();
    for (const entry of entries) {
        const id = `${entry.host}:${entry.port}`;
        if (seen.has(id)) problems.push(`hosts: ${id} is listed twice`);
        seen.add(id);
    }
    return entries;
}

const registryAddress = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d{1,5})?(\/[a-z0-9._-]+)*$/i;

function validateRegistry(raw: unknown, problems: string[]): RegistrySettings | undefined {
    if (raw === undefined) return undefined;
    if (!isObject(raw)) {
        problems.push(`registry: ${show(raw)} is not an object {address, pullAddress}`);
        return undefined;
    }
    for (const key of Object.keys(raw)) {
        if (!["address", "pullAddress"].includes(key)) problems.push(`registry.${key}: unknown key; allowed: address, pullAddress`);
    }
    const check = (key: "address" | "pullAddress") => {
        const value = raw[key];
        if (typeof value !== "string" || !registryAddress.test(value)) {
            problems.push(`registry.${key}: ${show(value)} is not a registry address (host[:port][/path], like "registry.example.com:5000")`);
            return undefined;
        }
        return value;
    };
    const address = check("address");
    const pullAddress = raw.pullAddress === undefined ? undefined : check("pullAddress");
    return address ? { address, ...(pullAddress ? { pullAddress } : {}) } : undefined;
}

function validateSsh(raw: unknown, problems: string[]): SshSettings {
    if (raw === undefined) return {};
    if (!isObject(raw)) {
        problems.push(`ssh: ${show(raw)} is not an object {user, publicKey, privateKey}`);
        return {};
    }
    const settings: SshSettings = {};
    for (const key of Object.keys(raw)) {
        // Never echo the value of privateKey.
        if (!["user", "publicKey", "privateKey"].includes(key)) problems.push(`ssh.${key}: unknown key; allowed: user, publicKey, privateKey`);
    }
    if (raw.user !== undefined) {
        if (typeof raw.user !== "string" || !/^[a-z_][a-z0-9_-]*$/i.test(raw.user)) problems.push(`ssh.user: ${show(raw.user)} is not a user name`);
        else settings.user = raw.user;
    }
    if (raw.publicKey !== undefined) {
        if (typeof raw.publicKey !== "string" || !/^(ssh-ed25519|ssh-rsa|ecdsa-sha2-\S+) \S+/.test(raw.publicKey.trim())) {
            problems.push(`ssh.publicKey: ${show(raw.publicKey)} is not an OpenSSH public key ("ssh-ed25519 AAAA...")`);
        } else settings.publicKey = raw.publicKey.trim();
    }
    if (raw.privateKey !== undefined) {
        if (typeof raw.privateKey !== "string" || !raw.privateKey.includes("PRIVATE KEY-----")) {
            problems.push("ssh.privateKey: is not a PEM/OpenSSH private key (set it with `pulumi config set --secret ssh.privateKey < key`)");
        } else settings.privateKey = raw.privateKey;
        if (settings.privateKey && settings.publicKey === undefined) {
            problems.push("ssh.publicKey: required with ssh.privateKey (the machines are given the public key)");
        }
    }
    return settings;
}

/**
 * Validates the raw config. `knownServices` are the services of the stack definition that
 * `replicas` may name. Throws a ConfigError listing every problem.
 */
export function validateConfig(raw: RawConfig, knownServices: readonly string[]): SwarmConfig {
    const problems: string[] = [];

    for (const key of raw.unknownKeys ?? []) {
        const [namespace, name] = key.split(":");
        const closest = [...configKeys].sort((a, b) => editDistance(name, a) - editDistance(name, b))[0];
        const hint = editDistance(name, closest) <= Math.max(2, Math.floor(name.length / 3)) ? `did you mean ${namespace}:${closest}? ` : "";
        problems.push(`${key}: not a setting of this program; ${hint}known: ${configKeys.join(", ")}`);
    }

    let provider: ProviderName | undefined;
    const rawProvider = raw.provider ?? "local";
    if (typeof rawProvider === "string" && (providers as readonly string[]).includes(rawProvider)) {
        provider = rawProvider as ProviderName;
    } else {
        problems.push(`provider: ${show(rawProvider)} is not one of ${providers.join(", ")}`);
    }

    const hosts = validateHosts(raw.hosts, provider, problems);
    const fromHosts = provider === "hosts";

    let managers = fromHosts ? hosts.filter((h) => h.role === "manager").length : 1;
    let workers = fromHosts ? hosts.filter((h) => h.role === "worker").length : 2;
    if (fromHosts && (raw.managers !== undefined || raw.workers !== undefined)) {
        problems.push("managers/workers: not used with provider \"hosts\": the roles in `hosts` decide");
    }
    if (!fromHosts && raw.managers !== undefined) {
        const value = asNumber(raw.managers);
        if (!isInteger(value) || value < 1 || value > maxManagers || value % 2 === 0) {
            problems.push(`managers: ${show(raw.managers)} is not an odd number from 1 to ${maxManagers} (a swarm needs a majority of managers for quorum)`);
        } else managers = value;
    }
    if (fromHosts && hosts.length > 0 && (managers < 1 || managers > maxManagers || managers % 2 === 0)) {
        problems.push(`hosts: ${managers} entries have role "manager"; allowed: an odd number from 1 to ${maxManagers}`);
    }
    if (!fromHosts && raw.workers !== undefined) {
        const value = asNumber(raw.workers);
        const limit = provider === "local" ? 200 : 1000;
        if (!isInteger(value) || value < 0 || value > limit) {
            problems.push(`workers: ${show(raw.workers)} is not an integer from 0 to ${limit}`);
        } else workers = value;
    }

    const replicas: Record<string, number> = {};
    if (raw.replicas !== undefined) {
        if (!isObject(raw.replicas)) {
            problems.push(`replicas: ${show(raw.replicas)} is not a map of service name to replica count`);
        } else {
            for (const [service, count] of Object.entries(raw.replicas)) {
                const value = asNumber(count);
                if (!knownServices.includes(service)) {
                    problems.push(`replicas.${service}: unknown service; valid services: ${knownServices.join(", ")}`);
                } else if (!isInteger(value) || value < 0) {
                    problems.push(`replicas.${service}: ${show(count)} is not an integer >= 0`);
                } else replicas[service] = value;
            }
        }
    }

    let stackName = "categorisation";
    if (raw.stackName !== undefined) {
        if (typeof raw.stackName !== "string" || !dockerName.test(raw.stackName) || raw.stackName.length > 40) {
            problems.push(`stackName: ${show(raw.stackName)} is not a Docker stack name (lower-case letters, digits, '-' and '_', at most 40)`);
        } else stackName = raw.stackName;
    }

    let taxonomyFile: string | undefined;
    if (raw.taxonomyFile !== undefined) {
        if (typeof raw.taxonomyFile !== "string" || raw.taxonomyFile.trim() === "") {
            problems.push(`taxonomyFile: ${show(raw.taxonomyFile)} is not a file path`);
        } else taxonomyFile = raw.taxonomyFile;
    }

    const stacks = validateStacks(raw.stacks, stackName, problems);

    const aws = validateAws(raw.aws, provider === "aws", raw.awsRegion, problems);

    const local = validateLocal(raw.local, problems);
    const ssh = validateSsh(raw.ssh, problems);
    const registry = validateRegistry(raw.registry, problems);
    if (provider === "hosts" && !ssh.privateKey) {
        problems.push("ssh.privateKey: required when provider is \"hosts\": the key your machines accept (`pulumi config set --secret --path ssh.privateKey -- \"$(cat key)\"`)");
    }

    if (problems.length > 0 || provider === undefined) throw new ConfigError(problems);
    return { provider, managers, workers, replicas, stackName, local, hosts, ssh, aws, registry, taxonomyFile, stacks };
}

const configKeys: Exclude<keyof RawConfig, "awsRegion" | "unknownKeys">[] = ["provider", "managers", "workers", "replicas", "stackName", "local", "hosts", "ssh", "aws", "registry", "taxonomyFile", "stacks"];

/** Edit distance (insertions, deletions, substitutions) between two keys. */
export function editDistance(a: string, b: string): number {
    let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
        const current = [i];
        for (let j = 1; j <= b.length; j++) {
            current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
        }
        previous = current;
    }
    return previous[b.length];
}

/**
 * Reads the raw values: structured values (objects, lists, numbers) arrive as JSON text.
 * `setKeys` are all keys set in the stack's config (`namespace:key`); those of `namespace` that
 * the program does not read are kept as `unknownKeys`, since a typo would otherwise do nothing.
 */
export function readRawConfig(get: (key: string) => string | undefined, awsRegion?: string, setKeys: string[] = [], namespace = "swarm"): RawConfig {
    const known = configKeys.map((key) => `${namespace}:${key}`);
    const raw: RawConfig = { awsRegion, unknownKeys: setKeys.filter((key) => key.startsWith(`${namespace}:`) && !known.includes(key)) };
    for (const key of configKeys) {
        const text = get(key);
        if (text === undefined) continue;
        try {
            raw[key] = key === "provider" || key === "stackName" || key === "taxonomyFile" ? text : JSON.parse(text);
        } catch {
            raw[key] = text;
        }
    }
    return raw;
}

/** The taxonomy shipped with the project, used when `taxonomyFile` is not set. */
export const defaultTaxonomyFile = "services/taxonomy/default-taxonomy.tsv";

/**
 * Reads the taxonomy file and checks it is in the IAB Content Taxonomy TSV format (a header row
 * with "Unique ID", "Parent" and "Name", then rows of tab-separated fields).
 */
export function readTaxonomy(file: string, read: (file: string) => string): string {
    let text: string;
    try {
        text = read(file);
    } catch (err) {
        throw new ConfigError([`taxonomyFile: cannot read ${JSON.stringify(file)}: ${(err as Error).message}`]);
    }
    const lines = text.split(/\r?\n/).filter((l) => l.trim() !== "");
    const header = lines.findIndex((l) => /^Unique ID\tParent\tName\t/.test(l));
    const rows = header < 0 ? [] : lines.slice(header + 1).filter((l) => /^[^\t]+\t[^\t]*\t[^\t]+/.test(l));
    if (header < 0 || rows.length === 0) {
        throw new ConfigError([`taxonomyFile: ${JSON.stringify(file)} is not an IAB Content Taxonomy TSV (a "Unique ID<TAB>Parent<TAB>Name..." header row, then one row per node)`]);
    }
    return text;
}
