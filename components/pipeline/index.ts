// The pipeline's own credentials: the key under which its store keeps user IDs, and the passwords
// of its stores (Redis, NATS), as the contents of the stack's secrets.
import * as pulumi from "@pulumi/pulumi";
import { AccessTokens } from "../tls";
import type { StoreSettings } from "./config";

export interface PipelineCredentialsArgs {
    /** Your own passwords; one not given: made per stack. */
    store: StoreSettings;
}

export class PipelineCredentials extends pulumi.ComponentResource {
    /** Secret: the key of the keyed hash of user IDs (`redis.userIdKey`, else made once: a new key would orphan every profile). */
    public readonly storeKey: pulumi.Output<string>;
    /** Secret: Redis's password (servers, Sentinels and the roles). */
    public readonly redisPassword: pulumi.Output<string>;
    /** Secret: the NATS user's password (servers, their routes and the roles). */
    public readonly natsPassword: pulumi.Output<string>;

    constructor(name: string, args: PipelineCredentialsArgs, opts?: pulumi.ComponentResourceOptions) {
        // No args to super(): they hold passwords.
        super("swarm:pipeline:PipelineCredentials", name, {}, opts);
        // Made once and kept whether the config gives passwords or not: one given, then removed,
        // falls back to the same made one.
        const made = new AccessTokens(`${name}-made`, { kinds: ["userkey", "redis", "nats"] }, { parent: this }).tokens;
        this.storeKey = pulumi.secret(made.apply((m) => args.store.userIdKey ?? m.userkey));
        this.redisPassword = pulumi.secret(made.apply((m) => args.store.redisPassword ?? m.redis));
        this.natsPassword = pulumi.secret(made.apply((m) => args.store.natsPassword ?? m.nats));
        this.registerOutputs({});
    }
}
