// Who may use the gateway, and how it proves who it is: its TLS certificate (the stack's own CA's,
// or yours) and the tokens it accepts (made per stack, or yours), as the secrets the pipeline's
// stack ships.
import * as pulumi from "@pulumi/pulumi";
import type { AuthSettings, TlsSettings } from "./config";
import { AccessTokens, GatewayCertificate, gatewayPem, tokenHashesFile } from "../tls";

export interface GatewayAccessArgs {
    /** Every address and DNS name the gateway is reached by: the certificate names them all. */
    names: pulumi.Input<string[]>;
    /** Your own certificate, or how long the certificates from the CA the stack makes are valid. */
    tls: TlsSettings;
    /** Your own tokens; a kind not given: one made per stack. */
    auth: AuthSettings;
}

/** The gateway's certificate and tokens, as the contents of the stack's secrets. */
export class GatewayAccess extends pulumi.ComponentResource {
    /** PEM of the stack's CA (absent with your own certificate). */
    public readonly caCertificate?: pulumi.Output<string>;
    /** Secret: a token POST /events accepts. */
    public readonly ingestToken: pulumi.Output<string>;
    /** Secret: a token that reads the pipeline's data. */
    public readonly adminToken: pulumi.Output<string>;
    /** Secret: haproxy's PEM (certificate, then key). */
    public readonly gatewayPem: pulumi.Output<string>;
    /** Secret: the hashes of the tokens the roles accept (see tokenHashesFile). */
    public readonly tokenHashes: pulumi.Output<string>;

    constructor(name: string, args: GatewayAccessArgs, opts?: pulumi.ComponentResourceOptions) {
        // No args to super(): they hold keys and tokens.
        super("swarm:gateway:GatewayAccess", name, {}, opts);
        if (args.tls.own) {
            this.gatewayPem = pulumi.secret(gatewayPem(args.tls.own.certificate, args.tls.own.privateKey));
        } else {
            const certificate = new GatewayCertificate(`${name}-certificate`, { names: args.names, validityDays: args.tls.validityDays }, { parent: this });
            this.caCertificate = certificate.caCertificate;
            this.gatewayPem = pulumi.secret(pulumi.all([certificate.certificate, certificate.privateKey]).apply(([cert, key]) => gatewayPem(cert, key)));
        }
        // Made once and kept whether the config lists tokens or not: a kind listed later, then no
        // longer, falls back to the same token.
        const made = new AccessTokens(`${name}-tokens`, { kinds: ["ingest", "admin"] }, { parent: this }).tokens;
        const tokens = pulumi.secret(made.apply((generated) => ({
            ingest: args.auth.ingestTokens ?? [generated.ingest],
            admin: args.auth.adminTokens ?? [generated.admin],
        })));
        this.ingestToken = pulumi.secret(tokens.apply((t) => t.ingest[0]));
        this.adminToken = pulumi.secret(tokens.apply((t) => t.admin[0]));
        this.tokenHashes = pulumi.secret(tokens.apply(tokenHashesFile));
        this.registerOutputs({ caCertificate: this.caCertificate });
    }
}
