// The gateway's config: its limits and CORS origins (`gateway`), your own certificate (`tls`) and
// tokens (`auth`). Never echoes a key or a token.
import { createPrivateKey, KeyObject, X509Certificate } from "crypto";
import { checkKeys, isObject, readInteger, show } from "../checks";
import { defaultValidityDays, maxValidityDays } from "../tls/provider";

/** The built-in stack's gateway: the one port the stacks publish. */
export interface GatewaySettings {
    /** POST /events a second per client address; over it: 429 with Retry-After. */
    rateLimit: number;
    /** Origins (`https://shop.example`) whose pages may POST /events from a browser (CORS). */
    allowedOrigins: string[];
}

/** A rate generous for a real site behind one NAT (hundreds of people sending a visit each few seconds). */
export const gatewayDefaults: GatewaySettings = { rateLimit: 1000, allowedOrigins: [] };

/** Your own certificate for the gateway. */
export interface OwnCertificate {
    /** PEM: the gateway's certificate (and the chain to its CA after it). */
    certificate: string;
    /** PEM, secret: its private key. */
    privateKey: string;
}

export interface TlsSettings {
    /** Your own certificate; absent: the stack makes a CA, which issues the gateway's certificate. */
    own?: OwnCertificate;
    /** Days a certificate the stack issues is valid; an `up` in its last 30 days issues the next one. */
    validityDays: number;
}

export const tlsDefaults: TlsSettings = { validityDays: defaultValidityDays };

export interface AuthSettings {
    /** Secret: the tokens POST /events accepts (several: one is rotated without downtime). */
    ingestTokens?: string[];
    /** Secret: the tokens that read (and delete) personal data and the pipeline's figures. */
    adminTokens?: string[];
}

const origin = /^https?:\/\/[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d{1,5})?$/i;

export function validateGateway(raw: unknown, problems: string[]): GatewaySettings {
    const settings = { ...gatewayDefaults };
    if (raw === undefined) return settings;
    if (!isObject(raw)) {
        problems.push(`gateway: ${show(raw)} is not an object {rateLimit, allowedOrigins}`);
        return settings;
    }
    checkKeys(raw, Object.keys(gatewayDefaults), "gateway", problems);
    if (raw.rateLimit !== undefined) {
        settings.rateLimit = readInteger(raw.rateLimit, "gateway.rateLimit", 1, 1_000_000, problems, "a number of requests a second per client address, from 1 to 1000000") ?? settings.rateLimit;
    }
    if (raw.allowedOrigins !== undefined) {
        const list = raw.allowedOrigins;
        if (Array.isArray(list) && list.every((o) => typeof o === "string" && origin.test(o))) settings.allowedOrigins = list;
        else problems.push(`gateway.allowedOrigins: ${show(list)} is not a list of origins (scheme, host and port only, like ["https://shop.example"])`);
    }
    return settings;
}

/**
 * The validity of the certificates the stack issues, or your own certificate: both parts, and
 * the key is the certificate's. Never echoes the key.
 */
export function validateTls(raw: unknown, problems: string[]): TlsSettings {
    if (raw === undefined) return { ...tlsDefaults };
    if (!isObject(raw)) {
        problems.push("tls: is not an object {validityDays} or {certificate, privateKey}");
        return { ...tlsDefaults };
    }
    checkKeys(raw, ["validityDays", "certificate", "privateKey"], "tls", problems);
    // Past the 30 days of renewal by a month; at most what browsers accept (825 days).
    const validityDays = raw.validityDays === undefined
        ? tlsDefaults.validityDays
        : readInteger(raw.validityDays, "tls.validityDays", 60, maxValidityDays, problems, `a number of days from 60 to ${maxValidityDays}`) ?? tlsDefaults.validityDays;
    if (raw.certificate === undefined && raw.privateKey === undefined) return { validityDays };
    if (raw.validityDays !== undefined) problems.push("tls.validityDays: applies to the certificates the stack issues, not to your own (tls.certificate)");
    const before = problems.length;
    let certificate: X509Certificate | undefined;
    try {
        certificate = new X509Certificate(String(raw.certificate ?? ""));
    } catch {
        problems.push("tls.certificate: required: the gateway's certificate, PEM (`pulumi config set --path tls.certificate -- \"$(cat cert.pem)\"`)");
    }
    let key: KeyObject | undefined;
    try {
        key = createPrivateKey(String(raw.privateKey ?? ""));
    } catch {
        problems.push("tls.privateKey: required: the certificate's private key, PEM, as a secret (`pulumi config set --secret --path tls.privateKey -- \"$(cat key.pem)\"`)");
    }
    if (certificate && key && !certificate.checkPrivateKey(key)) problems.push("tls.privateKey: is not the key of tls.certificate");
    if (problems.length > before) return { validityDays };
    return { own: { certificate: raw.certificate as string, privateKey: raw.privateKey as string }, validityDays };
}

/** Token lists: each token at least 16 characters without spaces. Never echoes a token. */
export function validateAuth(raw: unknown, problems: string[]): AuthSettings {
    if (raw === undefined) return {};
    if (!isObject(raw)) {
        problems.push("auth: is not an object {ingestTokens, adminTokens}");
        return {};
    }
    checkKeys(raw, ["ingestTokens", "adminTokens"], "auth", problems);
    const settings: AuthSettings = {};
    for (const key of ["ingestTokens", "adminTokens"] as const) {
        const list = raw[key];
        if (list === undefined) continue;
        if (!Array.isArray(list) || list.length === 0) {
            problems.push(`auth.${key}: is not a non-empty list of tokens (set it as a secret: \`pulumi config set --secret --path 'auth.${key}[0]' <token>\`)`);
            continue;
        }
        const bad = list.findIndex((token) => typeof token !== "string" || !/^\S{16,}$/.test(token));
        if (bad >= 0) problems.push(`auth.${key}[${bad}]: is not a token (at least 16 characters, no spaces)`);
        else settings[key] = list as string[];
    }
    return settings;
}
