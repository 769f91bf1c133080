// The project's configuration (namespace `swarm`): read and validated before any resource is
// made. Every error names the key, the bad value (only its shape when it may be secret: see
// checks.ts show) and what is allowed. Each provider's section is checked by its own folder
// (local/config.ts, aws/config.ts, hosts/config.ts).
import * as pulumi from "@pulumi/pulumi";
import { AwsSettings, validateAws } from "../aws/config";
import { AuthSettings, GatewaySettings, TlsSettings, validateAuth, validateGateway, validateTls } from "../gateway/config";
import { HostEntry, RegistrySettings, validateHosts, validateRegistry } from "../hosts/config";
import { LocalSettings, validateLocal } from "../local/config";
import { PrivacySettings, StoreSettings, validatePrivacy, validateStore } from "../pipeline/config";
import { asNumber, checkKeys, ConfigError, dockerName, isInteger, isObject, readInteger, readReplicas, readString, show } from "../checks";

export { ConfigError } from "../checks";
export type { AuthSettings, GatewaySettings, TlsSettings } from "../gateway/config";
export type { PrivacySettings, StoreSettings } from "../pipeline/config";

export const providers = ["local", "aws", "hosts"] as const;
export type ProviderName = (typeof providers)[number];
export const maxManagers = 7;

export interface SshSettings {
    user?: string;
    publicKey?: string;
    /** `ssh.privateKey` (a secret in config): never put into a message; it reaches the machines' commands as a secret. */
    privateKey?: string;
}

export interface StackSettings {
    /** The Compose file: relative to the project directory, or absolute. */
    file: string;
    /** Service name -> replica count, overriding the file's `deploy.replicas`. */
    replicas: Record<string, number>;
}

/** What every provider shares. */
interface CommonConfig {
    managers: number;
    workers: number;
    /** Replica counts of the built-in stack's services, overriding its defaults (checked against the stack). */
    replicas: Record<string, number>;
    /** The built-in stack's name. */
    stackName: string;
    ssh: SshSettings;
    /** Base image of every image built here (`local.baseImage`, whatever the provider). */
    baseImage: string;
    taxonomyFile?: string;
    /** Your own Compose stacks, deployed beside the built-in one: stack name -> file and replica overrides. */
    stacks: Record<string, StackSettings>;
    gateway: GatewaySettings;
    /** Your own certificate for the gateway, or the validity of those the stack's own CA issues. */
    tls: TlsSettings;
    /** The tokens the gateway accepts; a kind not given: the stack makes one. */
    auth: AuthSettings;
    /** How long profiles are kept, and which interests are never recorded. */
    privacy: PrivacySettings;
    /** Redis's memory bound, and the stores' passwords (`redis`, `nats`). */
    store: StoreSettings;
    /** Prometheus on the swarm with the pipeline's alert rules, behind the gateway. */
    monitoring: boolean;
}

export type SwarmConfig = CommonConfig & (
    | { provider: "local"; local: LocalSettings }
    | { provider: "aws"; aws: AwsSettings }
    /** `registry`: where the machines pull the stacks' images from; none: the built-in stack is not deployed. */
    | { provider: "hosts"; hosts: HostEntry[]; registry?: RegistrySettings }
);

const configKeys = ["provider", "managers", "workers", "replicas", "stackName", "local", "hosts", "ssh", "aws", "registry", "taxonomyFile", "stacks", "gateway", "tls", "auth", "privacy", "redis", "nats", "monitoring"] as const;
type ConfigKey = (typeof configKeys)[number];

/** The raw values as read from the stack's config (parsed JSON for objects). */
export type RawConfig = { [key in ConfigKey]?: unknown } & {
    /** The standard `aws:region` setting. */
    awsRegion?: string;
    /** Keys set in the program's config namespace that it does not know, with the namespace. */
    unknownKeys?: string[];
    /** Keys (without the namespace) set without --secret; absent: not known, none refused for it. */
    plainKeys?: string[];
};

/**
 * Settings that hold a secret: refused when set without --secret, which leaves them in plain text
 * in Pulumi.<stack>.yaml. Pulumi marks a whole top-level key secret when any part of it is, so
 * `ssh` set with --secret anywhere (ssh.user, say) passes with a plain ssh.privateKey.
 */
const secretSettings = [["ssh", "privateKey"], ["tls", "privateKey"], ["auth", "ingestTokens"], ["auth", "adminTokens"], ["redis", "password"], ["redis", "userIdKey"], ["nats", "password"]];

function plainSecretProblems(raw: RawConfig): string[] {
    return secretSettings.flatMap(([section, field]) => {
        const value = (raw as Record<string, unknown>)[section];
        if (!raw.plainKeys?.includes(section) || !isObject(value) || value[field] === undefined) return [];
        const key = `${section}.${field}`;
        const example = Array.isArray(value[field]) ? `'${key}[0]'` : key;
        return [`${key}: set without --secret, so the stack's config file holds it in plain text; set it again with \`pulumi config set --secret --path ${example} -- <value>\``];
    });
}

/** Whether `namespace:key` was set with --secret: the SDK's runtime has the list the CLI passes, but exports no typed way to read it. */
function isSecretConfig(key: string): boolean {
    const runtime = pulumi.runtime as unknown as { isConfigSecret?: (key: string) => boolean };
    if (typeof runtime.isConfigSecret !== "function") throw new Error("@pulumi/pulumi no longer has runtime.isConfigSecret: cannot tell which config keys are secrets");
    return runtime.isConfigSecret(key);
}

/** Edit distance (insertions, deletions, substitutions) between two keys. */
export function editDistance(a: string, b: string): number {
    let previousRow = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
        const row = [i];
        for (let j = 1; j <= b.length; j++) {
            row[j] = Math.min(previousRow[j] + 1, row[j - 1] + 1, previousRow[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
        }
        previousRow = row;
    }
    return previousRow[b.length];
}

/** A key of the namespace that the program does not read: named, with the closest known key. */
function unknownKeyProblem(key: string): string {
    const [namespace, name] = key.split(":");
    const closest = [...configKeys].sort((a, b) => editDistance(name, a) - editDistance(name, b))[0];
    const hint = editDistance(name, closest) <= Math.max(2, Math.floor(name.length / 3)) ? `did you mean ${namespace}:${closest}? ` : "";
    return `${key}: not a setting of this program; ${hint}known: ${configKeys.join(", ")}`;
}

const isStackName = (name: string): boolean => dockerName.test(name) && name.length <= 40;
const stackNameRule = "a Docker stack name (lower-case letters, digits, '-' and '_', at most 40)";

/** The `stacks` map: names and shapes only; the files are read by loadComposeStacks. */
function validateStacks(raw: unknown, builtInStack: string, problems: string[]): Record<string, StackSettings> {
    const stacks: Record<string, StackSettings> = {};
    if (raw === undefined) return stacks;
    if (!isObject(raw)) {
        problems.push(`stacks: ${show(raw, "stacks")} is not a map of stack name to {file, replicas}`);
        return stacks;
    }
    for (const [name, entry] of Object.entries(raw)) {
        const key = `stacks.${name}`;
        const before = problems.length;
        if (!isStackName(name)) problems.push(`${key}: ${show(name, key)} is not ${stackNameRule}`);
        else if (name === builtInStack) problems.push(`${key}: clashes with the built-in stack ${show(builtInStack)} (stackName); choose another name`);
        if (!isObject(entry)) {
            problems.push(`${key}: ${show(entry, key)} is not an object {file, replicas}`);
            continue;
        }
        checkKeys(entry, ["file", "replicas"], key, problems);
        if (entry.file === undefined) problems.push(`${key}.file: required: the path to the stack's Compose file`);
        else readString(entry.file, `${key}.file`, (s) => s.trim() !== "", "a path to a Compose file", problems);
        const replicas = readReplicas(entry.replicas, `${key}.replicas`, problems);
        if (problems.length === before) stacks[name] = { file: entry.file as string, replicas };
    }
    return stacks;
}

function validateSsh(raw: unknown, problems: string[]): SshSettings {
    if (raw === undefined) return {};
    if (!isObject(raw)) {
        problems.push(`ssh: ${show(raw, "ssh")} is not an object {user, publicKey, privateKey}`);
        return {};
    }
    checkKeys(raw, ["user", "publicKey", "privateKey"], "ssh", problems);
    const settings: SshSettings = {};
    if (raw.user !== undefined) settings.user = readString(raw.user, "ssh.user", (s) => /^[a-z_][a-z0-9_-]*$/i.test(s), "a user name", problems);
    if (raw.publicKey !== undefined) {
        const key = readString(raw.publicKey, "ssh.publicKey", (s) => /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-\S+) \S+/.test(s.trim()), "an OpenSSH public key (\"ssh-ed25519 AAAA...\")", problems);
        if (key) settings.publicKey = key.trim();
    }
    if (raw.privateKey !== undefined) {
        // Never echo the value of privateKey.
        if (typeof raw.privateKey !== "string" || !raw.privateKey.includes("PRIVATE KEY-----")) {
            problems.push("ssh.privateKey: is not a PEM/OpenSSH private key (set it with `pulumi config set --secret ssh.privateKey < key`)");
        } else settings.privateKey = raw.privateKey;
        if (settings.privateKey && settings.publicKey === undefined) problems.push("ssh.publicKey: required with ssh.privateKey (the machines are given the public key)");
    }
    return settings;
}

/** Managers and workers: from config, or (provider "hosts") from the roles of the listed machines. */
function validateCounts(raw: RawConfig, provider: ProviderName | undefined, hosts: HostEntry[], problems: string[]): { managers: number; workers: number } {
    const quorum = `an odd number from 1 to ${maxManagers}`;
    if (provider === "hosts") {
        if (raw.managers !== undefined || raw.workers !== undefined) problems.push("managers/workers: not used with provider \"hosts\": the roles in `hosts` decide");
        const managers = hosts.filter((h) => h.role === "manager").length;
        if (hosts.length > 0 && (managers < 1 || managers > maxManagers || managers % 2 === 0)) problems.push(`hosts: ${managers} entries have role "manager"; allowed: ${quorum}`);
        return { managers, workers: hosts.length - managers };
    }
    let managers = 1;
    if (raw.managers !== undefined) {
        const value = asNumber(raw.managers);
        if (isInteger(value) && value >= 1 && value <= maxManagers && value % 2 === 1) managers = value;
        else problems.push(`managers: ${show(raw.managers, "managers")} is not ${quorum} (a swarm needs a majority of managers for quorum)`);
    }
    const workerLimit = provider === "local" ? 200 : 1000;
    const workers = raw.workers === undefined ? 2 : readInteger(raw.workers, "workers", 0, workerLimit, problems) ?? 2;
    return { managers, workers };
}

/** Validates the raw config. Throws a ConfigError listing every problem. */
export function validateConfig(raw: RawConfig): SwarmConfig {
    const problems: string[] = [...(raw.unknownKeys ?? []).map(unknownKeyProblem), ...plainSecretProblems(raw)];
    const provider = readString(raw.provider ?? "local", "provider", (s) => (providers as readonly string[]).includes(s), `one of ${providers.join(", ")}`, problems) as ProviderName | undefined;
    const hosts = provider === "hosts" ? validateHosts(raw.hosts, problems) : [];
    const counts = validateCounts(raw, provider, hosts, problems);
    const replicas = readReplicas(raw.replicas, "replicas", problems);
    const stackName = raw.stackName === undefined ? "categorisation" : readString(raw.stackName, "stackName", isStackName, stackNameRule, problems) ?? "categorisation";
    const taxonomyFile = raw.taxonomyFile === undefined ? undefined : readString(raw.taxonomyFile, "taxonomyFile", (s) => s.trim() !== "", "a file path", problems);
    const stacks = validateStacks(raw.stacks, stackName, problems);
    const ssh = validateSsh(raw.ssh, problems);
    const gateway = validateGateway(raw.gateway, problems);
    const tls = validateTls(raw.tls, problems);
    const auth = validateAuth(raw.auth, problems);
    const privacy = validatePrivacy(raw.privacy, problems);
    const store = validateStore(raw.redis, raw.nats, problems);
    const monitoring = raw.monitoring === undefined ? false : raw.monitoring;
    if (typeof monitoring !== "boolean") problems.push(`monitoring: ${show(raw.monitoring, "monitoring")} is not true or false`);
    const local = validateLocal(raw.local, problems);
    const aws = provider === "aws" ? validateAws(raw.aws, problems) : undefined;
    if (provider === "aws" && !raw.awsRegion) problems.push("aws:region: required when provider is \"aws\" (`pulumi config set aws:region eu-west-1`)");
    const registry = validateRegistry(raw.registry, problems);
    if (provider === "hosts" && !ssh.privateKey) {
        problems.push("ssh.privateKey: required when provider is \"hosts\": the key your machines accept (`pulumi config set --secret --path ssh.privateKey -- \"$(cat key)\"`)");
    }
    if (problems.length > 0 || provider === undefined) throw new ConfigError(problems);
    const common: CommonConfig = { ...counts, replicas, stackName, ssh, baseImage: local.baseImage, taxonomyFile, stacks, gateway, tls, auth, privacy, store, monitoring: monitoring === true };
    switch (provider) {
        case "local":
            return { ...common, provider, local };
        case "aws":
            return { ...common, provider, aws: aws as AwsSettings };
        case "hosts":
            return { ...common, provider, hosts, ...(registry ? { registry } : {}) };
    }
}

/**
 * Reads the raw values: structured values (objects, lists, numbers) arrive as JSON text.
 * `setKeys` are all keys set in the stack's config (`namespace:key`); those of `namespace` that
 * the program does not read are kept as `unknownKeys`, since a typo would otherwise do nothing.
 * `isSecret` tells a key set with --secret (`namespace:key`); the others are `plainKeys`.
 */
export function readRawConfig(get: (key: string) => string | undefined, awsRegion?: string, setKeys: string[] = [], namespace = "swarm", isSecret = isSecretConfig): RawConfig {
    const known = configKeys.map((key) => `${namespace}:${key}`);
    const raw: RawConfig = { awsRegion, unknownKeys: setKeys.filter((key) => key.startsWith(`${namespace}:`) && !known.includes(key)), plainKeys: [] };
    for (const key of configKeys) {
        const text = get(key);
        if (text === undefined) continue;
        if (!isSecret(`${namespace}:${key}`)) raw.plainKeys!.push(key);
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
