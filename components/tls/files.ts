// Files the gateway and the pipeline roles read, rendered from what the resources in ./index.ts
// output. Pure functions of their arguments.
import { createHash } from "crypto";

/** The roles a token may have in the hashes file the pipeline roles read. */
export type TokenRole = "ingest" | "admin";

/**
 * The token hashes file: a line `<role> <sha256 hex of the token>` per token, sorted, ending with
 * a newline (empty for no tokens). The services compare hashes, so the file reveals no token.
 */
export function tokenHashesFile(tokens: Readonly<Record<TokenRole, readonly string[]>>): string {
    const lines = new Set<string>();
    for (const role of ["ingest", "admin"] as const) {
        for (const token of tokens[role]) {
            // The hash of "" would let an empty bearer token in.
            if (token.length === 0) throw new Error(`an empty ${role} token`);
            lines.add(`${role} ${createHash("sha256").update(token, "utf8").digest("hex")}`);
        }
    }
    return [...lines].sort().map((line) => `${line}\n`).join("");
}

/**
 * The PEM haproxy's `crt` takes: the certificate, then its private key. Arguments that are not a
 * certificate and a private key (given the other way round, say) throw rather than make a file
 * haproxy refuses at start.
 */
export function gatewayPem(certificate: string, privateKey: string): string {
    if (!/-----BEGIN CERTIFICATE-----/.test(certificate)) throw new Error("gatewayPem: the first argument is not a PEM certificate");
    if (!/-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----/.test(privateKey)) throw new Error("gatewayPem: the second argument is not a PEM private key");
    return `${certificate.trim()}\n${privateKey.trim()}\n`;
}
