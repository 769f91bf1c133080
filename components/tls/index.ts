import * as pulumi from "@pulumi/pulumi";
import { certificateProvider, defaultRenewBeforeDays, defaultValidityDays, tokenProvider } from "./provider";

export { gatewayPem, tokenHashesFile } from "./files";
export type { TokenRole } from "./files";
export {
    caRenewBeforeDays,
    caValidityDays,
    defaultRenewBeforeDays,
    defaultValidityDays,
    makeCa,
    makeServerCertificate,
    makeToken,
    maxValidityDays,
    nameKind,
    normaliseNames,
    renewalDue,
} from "./provider";
export type { IssuedCertificate, NameKind } from "./provider";

export interface GatewayCertificateArgs {
    /** The IP addresses and DNS names clients reach the gateway by (subjectAltName IP and DNS entries). */
    names: pulumi.Input<string[]>;
    /** Days the server certificate is valid. Default 365, at most 825. */
    validityDays?: pulumi.Input<number>;
    /** The `up` this many days or fewer before the server certificate ends makes a new one. Default 30. */
    renewBeforeDays?: pulumi.Input<number>;
}

/**
 * The gateway's TLS certificate and the CA that signs it, made once and kept in the state (the
 * keys secret). Made here rather than by the TLS provider so it needs no plugin download. A change
 * of names, or an `up` within `renewBeforeDays` of the end, makes a new server certificate signed
 * by the same CA, so clients that trust the CA keep working; the CA is made anew only in its last
 * year.
 */
export class GatewayCertificate extends pulumi.dynamic.Resource {
    /** PEM: what clients are given to trust. */
    declare public readonly caCertificate: pulumi.Output<string>;
    /** PEM, PKCS#8. Secret. */
    declare public readonly caPrivateKey: pulumi.Output<string>;
    /** The server certificate, PEM. */
    declare public readonly certificate: pulumi.Output<string>;
    /** The server certificate's key, PEM, PKCS#8. Secret. */
    declare public readonly privateKey: pulumi.Output<string>;
    /** When the server certificate ends, ISO 8601. */
    declare public readonly notAfter: pulumi.Output<string>;

    constructor(name: string, args: GatewayCertificateArgs, opts?: pulumi.CustomResourceOptions) {
        super(
            certificateProvider,
            name,
            {
                names: args.names,
                validityDays: args.validityDays ?? defaultValidityDays,
                renewBeforeDays: args.renewBeforeDays ?? defaultRenewBeforeDays,
                caCommonName: `${pulumi.getProject()}-${pulumi.getStack()} gateway CA`,
                caCertificate: undefined,
                caPrivateKey: undefined,
                certificate: undefined,
                privateKey: undefined,
                notAfter: undefined,
            },
            { ...opts, additionalSecretOutputs: ["privateKey", "caPrivateKey", ...(opts?.additionalSecretOutputs ?? [])] },
            "tls",
            "GatewayCertificate",
        );
    }
}

/**
 * A random bearer token per kind (`<kind>_<43 base64url characters>`), made once and kept (secret)
 * in the state. A kind added later gets a token; the others keep theirs.
 */
export class AccessTokens extends pulumi.dynamic.Resource {
    /** Secret: kind -> token. */
    declare public readonly tokens: pulumi.Output<Record<string, string>>;

    constructor(name: string, args: { kinds: pulumi.Input<string[]> }, opts?: pulumi.CustomResourceOptions) {
        super(
            tokenProvider,
            name,
            { kinds: args.kinds, tokens: undefined },
            { ...opts, additionalSecretOutputs: ["tokens", ...(opts?.additionalSecretOutputs ?? [])] },
            "tls",
            "AccessTokens",
        );
    }
}
