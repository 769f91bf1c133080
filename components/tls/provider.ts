// The resource providers behind `GatewayCertificate` and `AccessTokens`, and the pure functions
// they are made of.
//
// They run inside Pulumi's dynamic-provider host, which receives these functions serialized into
// the state, so everything here is plain functions and values (no classes, no `this`) and
// node_modules imports only (they are re-required, not serialized). Named imports, so each
// module is captured as the module itself.
import { createHash, createPrivateKey, KeyObject, randomBytes, webcrypto } from "crypto";
import { isIPv4, isIPv6 } from "net";
import {
    AuthorityKeyIdentifierExtension,
    BasicConstraintsExtension,
    ExtendedKeyUsage,
    ExtendedKeyUsageExtension,
    KeyUsageFlags,
    KeyUsagesExtension,
    SubjectAlternativeNameExtension,
    SubjectKeyIdentifierExtension,
    X509Certificate,
    X509CertificateGenerator,
} from "@peculiar/x509";

const dayMs = 24 * 60 * 60 * 1000;

/** Days a gateway CA is valid: long, as every client that trusts it would have to be told of a new one. */
export const caValidityDays = 3650;
/** A CA with less than this left is made anew (with a new server certificate) on the next `up`. */
export const caRenewBeforeDays = 365;
/** Defaults of the server certificate: a year, renewed a month before it ends. */
export const defaultValidityDays = 365;
export const defaultRenewBeforeDays = 30;
/** Apple platforms refuse TLS server certificates valid for longer, whoever issued them. */
export const maxValidityDays = 825;
/**
 * Certificates start this much before they are made, so a client whose clock is a little behind
 * does not find them "not yet valid".
 */
const backdateMs = 60 * 60 * 1000;

/** What the dynamic-provider host passes for a value not known yet (a preview of a new machine's address). */
const unknownValue = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
const isUnknown = (value: unknown): boolean => value === unknownValue;

const ecdsa = { name: "ECDSA", namedCurve: "P-256" } as const;
const signingAlgorithm = { name: "ECDSA", hash: "SHA-256" } as const;
/** The WebCrypto the certificates are made with: node's own, passed rather than found on globalThis. */
const subtleCrypto = webcrypto as unknown as NonNullable<Parameters<typeof X509CertificateGenerator.create>[1]>;

/** A certificate and its private key, both PEM (the key PKCS#8), and when the certificate ends. */
export interface IssuedCertificate {
    certificate: string;
    privateKey: string;
    /** ISO 8601. */
    notAfter: string;
}

/** How a name is put in subjectAltName: an IP address entry or a DNS name entry. */
export type NameKind = "ip" | "dns";

const dnsLabel = "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?";
const dnsName = new RegExp(`^(?:\\*\\.)?${dnsLabel}(?:\\.${dnsLabel})*$`);

/** "ip" for an IPv4 or IPv6 address, "dns" for a host name (a leading "*." wildcard allowed); throws for anything else. */
export function nameKind(name: string): NameKind {
    // A zone (fe80::1%eth0) means something only on one machine: no certificate can name it.
    if (isIPv4(name) || (isIPv6(name) && !name.includes("%"))) return "ip";
    if (name.length <= 253 && dnsName.test(name.toLowerCase().replace(/\.$/, ""))) return "dns";
    throw new Error(`"${name}" is neither an IP address nor a DNS name`);
}

/**
 * One spelling per name, so that a list differing only in order, case or IPv6 notation is the
 * same list: DNS names lower case without a final dot, IPv6 addresses as URLs print them
 * (compressed, an embedded IPv4 address in hex), sorted and without repeats.
 */
export function normaliseNames(names: readonly string[]): string[] {
    const normalised = names.map((raw) => {
        const name = raw.trim();
        if (nameKind(name) === "dns") return name.toLowerCase().replace(/\.$/, "");
        return isIPv6(name) ? new URL(`http://[${name}]`).hostname.slice(1, -1) : name;
    });
    return [...new Set(normalised)].sort();
}

/** Whether a certificate ending at `notAfter` is due to be made anew at `now`: from `renewBeforeDays` before its end on. */
export function renewalDue(notAfter: string, renewBeforeDays: number, now: Date): boolean {
    const end = Date.parse(notAfter);
    // A date that does not parse is treated as ended: renewing is the safe way out.
    return Number.isNaN(end) || now.getTime() >= end - renewBeforeDays * dayMs;
}

/** 16 random bytes, the top bit clear: a positive serial number, as RFC 5280 wants. */
function serialNumber(): string {
    const bytes = randomBytes(16);
    bytes[0] &= 0x7f;
    return bytes.toString("hex");
}

async function newKeyPair(): Promise<webcrypto.CryptoKeyPair> {
    return webcrypto.subtle.generateKey(ecdsa, true, ["sign", "verify"]);
}

// PEM through node's KeyObject: this code is serialized into the state, where a key's PEM marker
// written out here would look like a key to a scan of the state.
async function privateKeyPem(key: webcrypto.CryptoKey): Promise<string> {
    return KeyObject.from(key).export({ type: "pkcs8", format: "pem" }).toString();
}

async function importPrivateKey(pem: string): Promise<webcrypto.CryptoKey> {
    const der = createPrivateKey(pem).export({ type: "pkcs8", format: "der" });
    return webcrypto.subtle.importKey("pkcs8", der, ecdsa, false, ["sign"]);
}

/** As the certificate has it: its dates are whole seconds. */
async function issued(cert: X509Certificate, keys: webcrypto.CryptoKeyPair): Promise<IssuedCertificate> {
    return { certificate: cert.toString("pem") + "\n", privateKey: await privateKeyPem(keys.privateKey), notAfter: cert.notAfter.toISOString() };
}

/**
 * A CA (ECDSA P-256, `validityDays` from `now`) that signs gateway certificates and nothing
 * else: pathLen 0, keyCertSign and cRLSign only.
 */
export async function makeCa(commonName: string, now: Date, validityDays = caValidityDays): Promise<IssuedCertificate> {
    const keys = await newKeyPair();
    const notAfter = new Date(now.getTime() + validityDays * dayMs);
    const cert = await X509CertificateGenerator.createSelfSigned(
        {
            serialNumber: serialNumber(),
            name: [{ CN: [commonName] }],
            notBefore: new Date(now.getTime() - backdateMs),
            notAfter,
            signingAlgorithm,
            keys,
            extensions: [
                new BasicConstraintsExtension(true, 0, true),
                new KeyUsagesExtension(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign, true),
                await SubjectKeyIdentifierExtension.create(keys.publicKey, false, subtleCrypto),
            ],
        },
        subtleCrypto,
    );
    return issued(cert, keys);
}

/**
 * A TLS server certificate (ECDSA P-256, serverAuth) for `names`, signed by `ca`: IP addresses
 * as IP entries of subjectAltName and host names as DNS entries (clients match those, not the
 * subject), valid for `validityDays` from `now`.
 */
export async function makeServerCertificate(
    ca: { certificate: string; privateKey: string },
    names: readonly string[],
    now: Date,
    validityDays = defaultValidityDays,
): Promise<IssuedCertificate> {
    const sans = normaliseNames(names);
    if (sans.length === 0) throw new Error("a server certificate needs at least one name");
    const caCert = new X509Certificate(ca.certificate);
    const keys = await newKeyPair();
    const notAfter = new Date(now.getTime() + validityDays * dayMs);
    const cert = await X509CertificateGenerator.create(
        {
            serialNumber: serialNumber(),
            subject: [{ CN: [sans.find((name) => nameKind(name) === "dns") ?? sans[0]] }],
            issuer: caCert.subjectName,
            notBefore: new Date(now.getTime() - backdateMs),
            notAfter,
            signingAlgorithm,
            publicKey: keys.publicKey,
            signingKey: await importPrivateKey(ca.privateKey),
            extensions: [
                new BasicConstraintsExtension(false, undefined, true),
                new KeyUsagesExtension(KeyUsageFlags.digitalSignature, true),
                new ExtendedKeyUsageExtension([ExtendedKeyUsage.serverAuth], false),
                new SubjectAlternativeNameExtension(
                    sans.map((name) => ({ type: nameKind(name), value: name })),
                    false,
                ),
                await SubjectKeyIdentifierExtension.create(keys.publicKey, false, subtleCrypto),
                await AuthorityKeyIdentifierExtension.create(caCert, false, subtleCrypto),
            ],
        },
        subtleCrypto,
    );
    return issued(cert, keys);
}

/** `GatewayCertificate`'s inputs as the provider receives them: every `pulumi.Input` resolved. */
export interface CertificateInputs {
    names: string[];
    validityDays?: number;
    renewBeforeDays?: number;
    /** Common name of the CA; read only when a CA is made. */
    caCommonName?: string;
}

/** What `GatewayCertificate` keeps in the state. */
export interface CertificateOutputs {
    /** As `normaliseNames` spells them. */
    names: string[];
    validityDays: number;
    caCertificate: string;
    /** Secret. */
    caPrivateKey: string;
    caNotAfter: string;
    certificate: string;
    /** Secret. */
    privateKey: string;
    notAfter: string;
}

export interface PlannedDiff {
    changes: boolean;
    replaces: string[];
    /** What is to be made anew, for the reader (the dynamic-provider host reads only changes and replaces). */
    diffs: string[];
}

const settings = (inputs: CertificateInputs) => ({
    validityDays: inputs.validityDays ?? defaultValidityDays,
    renewBeforeDays: inputs.renewBeforeDays ?? defaultRenewBeforeDays,
    caCommonName: inputs.caCommonName ?? "gateway CA",
});

/**
 * What an `up` at `now` does to a gateway certificate: a new server certificate (an update; the
 * CA stays, so clients keep trusting it) when the names or the validity changed or the
 * certificate is within `renewBeforeDays` of its end; a new CA as well when the CA is within a
 * year of its end. Never a replacement.
 */
export function planCertificateDiff(olds: CertificateOutputs, news: CertificateInputs, now: Date): PlannedDiff {
    const diffs: string[] = [];
    // Names not known yet (a machine still to be made) may well differ.
    const names = Array.isArray(news.names) && !news.names.some(isUnknown) ? normaliseNames(news.names) : undefined;
    if (!names || names.join(",") !== normaliseNames(olds.names ?? []).join(",")) diffs.push("names");
    const { validityDays, renewBeforeDays } = settings(news);
    if (validityDays !== olds.validityDays) diffs.push("validityDays");
    if (renewalDue(olds.notAfter, renewBeforeDays, now)) diffs.push("certificate");
    if (!olds.caCertificate || renewalDue(olds.caNotAfter, caRenewBeforeDays, now)) diffs.push("caCertificate");
    return { changes: diffs.length > 0, replaces: [], diffs };
}

/** Failures of a `check`, one per input; values not known yet pass. */
export function checkCertificateInputs(news: CertificateInputs): { property: string; reason: string }[] {
    const failures: { property: string; reason: string }[] = [];
    if (!isUnknown(news.names)) {
        if (!Array.isArray(news.names) || news.names.length === 0) {
            failures.push({ property: "names", reason: "at least one IP address or DNS name is required" });
        } else {
            for (const name of news.names) {
                if (isUnknown(name)) continue;
                try {
                    nameKind(typeof name === "string" ? name.trim() : String(name));
                } catch (err) {
                    failures.push({ property: "names", reason: (err as Error).message });
                }
            }
        }
    }
    const { validityDays, renewBeforeDays } = settings(news);
    const known = !isUnknown(validityDays) && !isUnknown(renewBeforeDays);
    if (known && !(Number.isInteger(validityDays) && validityDays > 0 && validityDays <= maxValidityDays)) {
        failures.push({ property: "validityDays", reason: `a whole number of days from 1 to ${maxValidityDays} is required` });
    } else if (known && !(Number.isInteger(renewBeforeDays) && renewBeforeDays >= 0 && renewBeforeDays < validityDays)) {
        // Otherwise every `up` would find the certificate due and make a new one.
        failures.push({ property: "renewBeforeDays", reason: "a whole number of days from 0 to less than validityDays is required" });
    }
    return failures;
}

async function issue(ca: IssuedCertificate, news: CertificateInputs, now: Date): Promise<CertificateOutputs> {
    const { validityDays } = settings(news);
    const server = await makeServerCertificate(ca, news.names, now, validityDays);
    return {
        names: normaliseNames(news.names),
        validityDays,
        caCertificate: ca.certificate,
        caPrivateKey: ca.privateKey,
        caNotAfter: ca.notAfter,
        certificate: server.certificate,
        privateKey: server.privateKey,
        notAfter: server.notAfter,
    };
}

/** The provider behind `GatewayCertificate`. */
export const certificateProvider = {
    async check(_olds: CertificateInputs, news: CertificateInputs) {
        const { validityDays, renewBeforeDays } = settings(news);
        return { inputs: { ...news, validityDays, renewBeforeDays }, failures: checkCertificateInputs(news) };
    },
    async create(inputs: CertificateInputs) {
        const now = new Date();
        const ca = await makeCa(settings(inputs).caCommonName, now);
        const outs = await issue(ca, inputs, now);
        // The CA's fingerprint names the resource; the id of a dynamic resource is not secret.
        return { id: createHash("sha256").update(outs.caCertificate).digest("hex").slice(0, 32), outs };
    },
    async diff(_id: string, olds: CertificateOutputs, news: CertificateInputs) {
        return planCertificateDiff(olds, news, new Date());
    },
    async update(_id: string, olds: CertificateOutputs, news: CertificateInputs) {
        const now = new Date();
        const keep = olds.caCertificate && olds.caPrivateKey && !renewalDue(olds.caNotAfter, caRenewBeforeDays, now);
        const ca = keep
            ? { certificate: olds.caCertificate, privateKey: olds.caPrivateKey, notAfter: olds.caNotAfter }
            : await makeCa(settings(news).caCommonName, now);
        return { outs: await issue(ca, news, now) };
    },
};

/** Kinds of token: a word, so that `<kind>_<random>` and `<kind> <hash>` read unambiguously. */
const tokenKind = /^[a-z][a-z0-9]*$/;

/** A bearer token of `kind`: 32 random bytes, base64url, after the kind (`ingest_…`), so a leaked one says what it opens. */
export function makeToken(kind: string): string {
    return `${kind}_${randomBytes(32).toString("base64url")}`;
}

export interface TokenInputs {
    kinds: string[];
}

export interface TokenOutputs {
    kinds: string[];
    /** Secret. */
    tokens: Record<string, string>;
}

const sameKinds = (a: readonly string[], b: readonly string[]): boolean =>
    [...new Set(a)].sort().join(",") === [...new Set(b)].sort().join(",");

/** Failures of a `check` of token kinds; values not known yet pass. */
export function checkTokenInputs(news: TokenInputs): { property: string; reason: string }[] {
    if (isUnknown(news.kinds)) return [];
    if (!Array.isArray(news.kinds) || news.kinds.length === 0) return [{ property: "kinds", reason: "at least one kind of token is required" }];
    const bad = news.kinds.filter((kind) => !isUnknown(kind) && !(typeof kind === "string" && tokenKind.test(kind)));
    if (bad.length > 0) return [{ property: "kinds", reason: `kinds are lower-case words: ${bad.map((kind) => JSON.stringify(kind)).join(", ")}` }];
    if (new Set(news.kinds).size !== news.kinds.length) return [{ property: "kinds", reason: "each kind once" }];
    return [];
}

/** The provider behind `AccessTokens`: a token per kind, made once; a new kind gets one, the others keep theirs. */
export const tokenProvider = {
    async check(_olds: TokenInputs, news: TokenInputs) {
        return { inputs: news, failures: checkTokenInputs(news) };
    },
    async create(inputs: TokenInputs) {
        const tokens = Object.fromEntries(inputs.kinds.map((kind) => [kind, makeToken(kind)]));
        return { id: randomBytes(16).toString("hex"), outs: { kinds: inputs.kinds, tokens } satisfies TokenOutputs };
    },
    async diff(_id: string, olds: TokenOutputs, news: TokenInputs): Promise<PlannedDiff> {
        const known = Array.isArray(news.kinds) && !news.kinds.some(isUnknown);
        const changed = !known || !sameKinds(olds.kinds ?? [], news.kinds);
        return { changes: changed, replaces: [], diffs: changed ? ["kinds"] : [] };
    },
    async update(_id: string, olds: TokenOutputs, news: TokenInputs) {
        const tokens = Object.fromEntries(news.kinds.map((kind) => [kind, olds.tokens?.[kind] ?? makeToken(kind)]));
        return { outs: { kinds: news.kinds, tokens } satisfies TokenOutputs };
    },
};
