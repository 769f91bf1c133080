// The pipeline's handling of personal data (`privacy`) and its stores' limits and credentials
// (`redis`, `nats`). Never echoes a password.
import { checkKeys, isObject, readString, show } from "../checks";

export interface PrivacySettings {
    /** Seconds after a user's last event that the profile is removed. */
    retentionSeconds: number;
    /**
     * Taxonomy nodes (IDs or names) that are sensitive besides the SCD-flagged ones, with
     * everything below them: a visit placed there credits nothing.
     */
    sensitive: string[];
}

/**
 * Politics is special category data (GDPR Art. 9) that the IAB file does not flag; the name
 * matches the node in the default taxonomy and in IAB 3.1.
 */
export const defaultSensitive = ["Politics"];

export const privacyDefaults: PrivacySettings = { retentionSeconds: 400 * 86_400, sensitive: defaultSensitive };

export interface StoreSettings {
    /** Redis's `maxmemory`, bytes (policy noeviction: a full store refuses writes and keeps what it has). */
    maxMemoryBytes: number;
    /** Secret: Redis's password; absent: one made per stack. */
    redisPassword?: string;
    /** Secret: the NATS user's password; absent: one made per stack. */
    natsPassword?: string;
    /**
     * Secret: the key under which the store keeps user IDs (a keyed hash); absent: one made per
     * stack. A backup carries its stack's key: `npm run restore` sets it here in a new stack.
     */
    userIdKey?: string;
}

const mb = 1024 * 1024;
export const storeDefaults: StoreSettings = { maxMemoryBytes: 256 * mb };

const durationUnits: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** "400d", "12h", "30m", "60s" as seconds; undefined for anything else. */
export function parseDuration(text: string): number | undefined {
    const match = /^(\d+)([smhd])$/.exec(text.trim());
    return match ? Number(match[1]) * durationUnits[match[2]] : undefined;
}

const sizeUnits: Record<string, number> = { mb, gb: 1024 * mb };

/** "256mb", "1gb" as bytes; undefined for anything else. */
export function parseSize(text: string): number | undefined {
    const match = /^(\d+)\s*(mb|gb)$/i.exec(text.trim());
    return match ? Number(match[1]) * sizeUnits[match[2].toLowerCase()] : undefined;
}

/**
 * The memory limit of a Redis container: twice its `maxmemory`, since rewriting the append-only
 * file forks the server and every page written meanwhile is copied. A Redis past its limit would
 * be killed, replay its file and be killed again.
 */
export const redisContainerBytes = (settings: StoreSettings): number => 2 * settings.maxMemoryBytes;

export function validatePrivacy(raw: unknown, problems: string[]): PrivacySettings {
    const settings = { ...privacyDefaults };
    if (raw === undefined) return settings;
    if (!isObject(raw)) {
        problems.push(`privacy: ${show(raw)} is not an object {retention, sensitive}`);
        return settings;
    }
    checkKeys(raw, ["retention", "sensitive"], "privacy", problems);
    if (raw.retention !== undefined) {
        const text = readString(raw.retention, "privacy.retention", (s) => (parseDuration(s) ?? 0) >= 1, "a duration like \"400d\", \"12h\" or \"60s\"", problems);
        if (text !== undefined) settings.retentionSeconds = parseDuration(text) as number;
    }
    if (raw.sensitive !== undefined) {
        const list = raw.sensitive;
        if (Array.isArray(list) && list.every((n) => typeof n === "string" && n.trim() !== "" && !n.includes(","))) settings.sensitive = list.map((n: string) => n.trim());
        else problems.push(`privacy.sensitive: ${show(list)} is not a list of taxonomy node IDs or names (like ["Politics"])`);
    }
    return settings;
}

const password = (value: unknown): boolean => typeof value === "string" && /^[A-Za-z0-9_.~+/=-]{16,}$/.test(value);

export function validateStore(redis: unknown, nats: unknown, problems: string[]): StoreSettings {
    const settings: StoreSettings = { ...storeDefaults };
    if (redis !== undefined) {
        if (!isObject(redis)) problems.push("redis: is not an object {maxMemory, password, userIdKey}");
        else {
            checkKeys(redis, ["maxMemory", "password", "userIdKey"], "redis", problems);
            if (redis.maxMemory !== undefined) {
                const text = readString(redis.maxMemory, "redis.maxMemory", (s) => (parseSize(s) ?? 0) >= 16 * mb && (parseSize(s) ?? 0) <= 64 * 1024 * mb, "a size from \"16mb\" to \"64gb\"", problems);
                if (text !== undefined) settings.maxMemoryBytes = parseSize(text) as number;
            }
            if (redis.password !== undefined) {
                if (password(redis.password)) settings.redisPassword = redis.password as string;
                else problems.push("redis.password: is not a password of at least 16 letters, digits or -_.~+/= (set it as a secret: `pulumi config set --secret --path redis.password <password>`)");
            }
            if (redis.userIdKey !== undefined) {
                if (password(redis.userIdKey)) settings.userIdKey = redis.userIdKey as string;
                else problems.push("redis.userIdKey: is not a key of at least 16 letters, digits or -_.~+/= (`npm run restore` sets it from a backup)");
            }
        }
    }
    if (nats !== undefined) {
        if (!isObject(nats)) problems.push("nats: is not an object {password}");
        else {
            checkKeys(nats, ["password"], "nats", problems);
            if (nats.password !== undefined) {
                if (password(nats.password)) settings.natsPassword = nats.password as string;
                else problems.push("nats.password: is not a password of at least 16 letters, digits or -_.~+/= (set it as a secret: `pulumi config set --secret --path nats.password <password>`)");
            }
        }
    }
    return settings;
}
