import assert from "node:assert/strict";
import { test } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { validateAws } from "../../components/aws/config";
import { show } from "../../components/checks";
import { ConfigError, RawConfig, readRawConfig, SwarmConfig, validateConfig } from "../../components/config";
import { validateRegistry } from "../../components/hosts/config";
import { localDefaults } from "../../components/local/config";
import { categorisationStack } from "../../stacks/categorisation";

/** The settings of the config's provider: the test fails when the config is of another one. */
function settingsOf<P extends SwarmConfig["provider"]>(config: SwarmConfig, provider: P): Extract<SwarmConfig, { provider: P }> {
    assert.equal(config.provider, provider);
    return config as Extract<SwarmConfig, { provider: P }>;
}

/** The config validated, and the built-in stack's replica counts checked against it, as the program does. */
function validate(raw: RawConfig): SwarmConfig {
    const config = validateConfig(raw);
    categorisationStack({ ...config, taxonomy: "", encryptNetwork: false, projectDir: "/" });
    return config;
}
const problemsOf = (raw: RawConfig): string[] => {
    try {
        validate(raw);
    } catch (err) {
        assert.ok(err instanceof ConfigError);
        return err.problems;
    }
    assert.fail("expected a ConfigError");
};

test("defaults: local provider, 1 manager, 2 workers, stack categorisation", () => {
    const config = validateConfig({});
    assert.equal(config.managers, 1);
    assert.equal(config.workers, 2);
    assert.equal(config.stackName, "categorisation");
    assert.deepEqual(settingsOf(config, "local").local, localDefaults);
});

test("numbers set as strings by `pulumi config set` are read", () => {
    const config = validateConfig(readRawConfig((k) => ({ managers: "3", workers: "5" })[k]));
    assert.equal(config.managers, 3);
    assert.equal(config.workers, 5);
});

test("even, zero or too many managers are refused, naming key, value and what is allowed", () => {
    for (const managers of [0, 2, 4, 9, -1, 1.5, "two"]) {
        const [problem] = problemsOf({ managers });
        assert.match(problem, /^managers: /);
        assert.ok(problem.includes(JSON.stringify(managers)), problem);
        assert.match(problem, /odd number from 1 to 7/);
    }
});

test("negative workers are refused", () => {
    assert.match(problemsOf({ workers: -1 })[0], /^workers: -1 is not an integer from 0 to 200/);
});

test("an unknown provider is refused, listing the known ones", () => {
    assert.deepEqual(problemsOf({ provider: "gcp" }), ['provider: "gcp" is not one of local, aws, hosts']);
});

test("replicas for an unknown service name the valid services", () => {
    assert.deepEqual(problemsOf({ replicas: { categorizer: 2 } }), ["replicas.categorizer: unknown service; valid services: collector, categoriser, profile-writer, profile-api"]);
    assert.deepEqual(problemsOf({ replicas: { nats: 2 } }), ["replicas.nats: unknown service; valid services: collector, categoriser, profile-writer, profile-api"]);
    assert.match(problemsOf({ replicas: { gateway: 2 } })[0], /^replicas\.gateway: the service runs in global mode/);
    assert.match(problemsOf({ replicas: { collector: -2 } })[0], /replicas.collector: -2 is not an integer >= 0/);
    assert.deepEqual(validate({ replicas: { collector: "3" } }).replicas, { collector: 3 });
});

test("every problem is reported at once", () => {
    assert.equal(problemsOf({ managers: 2, workers: -3, provider: "x" }).length, 3);
});

// Not a key: a placeholder in the PEM layout, its marker split so secret scanners pass it by.
const key = ["-----BEGIN OPENSSH", "PRIVATE KEY-----\nabc\n-----END OPENSSH", "PRIVATE KEY-----"].join(" ");
const ssh = { privateKey: key, publicKey: "ssh-ed25519 AAAAC3Nza test" };

test("hosts provider: roles decide the counts", () => {
    const config = validateConfig({
        provider: "hosts",
        ssh,
        hosts: [
            { host: "10.1.0.5", role: "manager", privateAddress: "10.1.0.5" },
            { host: "node2.example.com", port: 2222, user: "admin", role: "worker", privateAddress: "10.1.0.6" },
        ],
    });
    assert.equal(config.managers, 1);
    assert.equal(config.workers, 1);
    assert.equal(settingsOf(config, "hosts").hosts[0].port, 22);
    assert.equal(settingsOf(config, "hosts").hosts[1].user, "admin");
});

test("malformed hosts entries are refused, each naming its index and field", () => {
    const problems = problemsOf({
        provider: "hosts",
        ssh,
        hosts: [
            { host: "", role: "manager", privateAddress: "10.1.0.5" },
            { host: "a", role: "boss", privateAddress: "10.1.0.6", port: 70000 },
            { host: "b", role: "worker", privateAddress: "not-an-ip", colour: "red" },
            "c",
        ],
    });
    assert.ok(problems.some((p) => p.startsWith('hosts[0].host: ""')), problems.join("\n"));
    assert.ok(problems.some((p) => p.startsWith('hosts[1].role: "boss" is not "manager" or "worker"')));
    assert.ok(problems.some((p) => p.startsWith("hosts[1].port: 70000")));
    assert.ok(problems.some((p) => p.startsWith('hosts[2].privateAddress: "not-an-ip"')));
    assert.ok(problems.some((p) => p.startsWith("hosts[2].colour: unknown key")));
    assert.ok(problems.some((p) => p.startsWith('hosts[3]: "c" is not an object')));
});

test("hosts provider needs hosts, an odd number of managers and a private key", () => {
    assert.match(problemsOf({ provider: "hosts", ssh })[0], /^hosts: required/);
    const twoManagers = [1, 2].map((i) => ({ host: `h${i}`, role: "manager", privateAddress: `10.0.0.${i}` }));
    assert.ok(problemsOf({ provider: "hosts", ssh, hosts: twoManagers }).some((p) => /2 entries have role "manager"/.test(p)));
    assert.ok(problemsOf({ provider: "hosts", hosts: twoManagers.slice(0, 1) }).some((p) => p.startsWith("ssh.privateKey: required")));
});

test("a bad private key is refused without echoing it", () => {
    const problems = problemsOf({ ssh: { privateKey: "hunter2-not-a-key", publicKey: ssh.publicKey } });
    assert.equal(problems.length, 1);
    assert.doesNotMatch(problems[0], /hunter2/);
});

test("local settings are checked", () => {
    const problems = problemsOf({ local: { subnet: "10.0.0.1/24", sshPortBase: 80, privileged: "yes", colour: 1 } });
    assert.equal(problems.length, 4);
    assert.deepEqual(settingsOf(validateConfig({ local: { subnet: "10.50.0.0/16" } }), "local").local.subnet, "10.50.0.0/16");
});

test("local.subnet: a network address with a /8../24 prefix", () => {
    assert.equal(settingsOf(validateConfig({ local: { subnet: "10.213.0.0/24" } }), "local").local.subnet, "10.213.0.0/24");
    for (const subnet of ["10.213.0.5/24", "10.213.0.0/30", "300.1.1.0/24", "10.213.0.0", "10.0.0.0/7"]) {
        assert.match(problemsOf({ local: { subnet } })[0], /^local\.subnet: .* is not an IPv4 network address with a prefix from \/8 to \/24/, subnet);
    }
});

test("aws.vpcCidr: /16 to /22 only (CreateVpc takes /16../28, and three /24 subnets must fit)", () => {
    const aws = (vpcCidr: string): RawConfig => ({ awsRegion: "eu-west-1", provider: "aws", aws: { sshAllowedCidrs: ["203.0.113.7/32"], vpcCidr } });
    assert.equal(settingsOf(validateConfig(aws("10.20.0.0/16")), "aws").aws.vpcCidr, "10.20.0.0/16");
    assert.equal(settingsOf(validateConfig(aws("10.20.4.0/22")), "aws").aws.vpcCidr, "10.20.4.0/22");
    for (const bad of ["10.0.0.0/8", "10.0.0.0/15", "10.20.0.0/23", "10.20.1.0/16"]) {
        assert.match(problemsOf(aws(bad))[0], /^aws\.vpcCidr: .* prefix from \/16 to \/22/, bad);
    }
});

test("gateway: rateLimit (requests a second per client address, 1000 by default) and the origins allowed to send events", () => {
    assert.deepEqual(validateConfig({}).gateway, { rateLimit: 1000, allowedOrigins: [] });
    assert.deepEqual(validateConfig({ gateway: { rateLimit: "20", allowedOrigins: ["https://shop.example", "http://localhost:3000"] } }).gateway, { rateLimit: 20, allowedOrigins: ["https://shop.example", "http://localhost:3000"] });
    assert.deepEqual(problemsOf({ gateway: { rateLimit: 0 } }), ["gateway.rateLimit: 0 is not a number of requests a second per client address, from 1 to 1000000"]);
    assert.deepEqual(problemsOf({ gateway: { ratelimit: 5 } }), ["gateway.ratelimit: unknown key; allowed: rateLimit, allowedOrigins"]);
    assert.match(problemsOf({ gateway: { allowedOrigins: ["https://shop.example/page"] } })[0], /^gateway\.allowedOrigins: .* is not a list of origins/);
    assert.match(problemsOf(readRawConfig(() => undefined, undefined, ["swarm:gateways"]))[0], /^swarm:gateways: not a setting of this program; did you mean swarm:gateway\?/);
});

test("tls: your own certificate and its key, checked together; a key is never echoed", async () => {
    const { makeCa, makeServerCertificate } = await import("../../components/tls");
    const ca = await makeCa("test CA", new Date());
    const server = await makeServerCertificate(ca, ["gateway.example.com"], new Date());
    const config = validateConfig({ tls: { certificate: server.certificate, privateKey: server.privateKey } });
    assert.equal(config.tls.own?.certificate, server.certificate);
    assert.deepEqual(problemsOf({ tls: { certificate: server.certificate, privateKey: ca.privateKey } }), ["tls.privateKey: is not the key of tls.certificate"]);
    const broken = problemsOf({ tls: { certificate: "nonsense", privateKey: "hunter2-secret" } });
    assert.deepEqual(broken.map((p) => p.split(":")[0]), ["tls.certificate", "tls.privateKey"]);
    assert.doesNotMatch(broken.join("\n"), /hunter2/);
    assert.deepEqual(validateConfig({}).tls, { validityDays: 365 });
});

test("tls.validityDays: how long the certificates the stack issues are valid, with room for their renewal", () => {
    assert.deepEqual(validateConfig({ tls: { validityDays: "90" } }).tls, { validityDays: 90 });
    for (const days of [30, 1000]) assert.match(problemsOf({ tls: { validityDays: days } }).join("\n"), /^tls\.validityDays: .* is not a number of days from 60 to 825$/);
    assert.match(problemsOf({ tls: { validityDays: 90, certificate: "x", privateKey: "y" } }).join("\n"), /tls\.validityDays: applies to the certificates the stack issues/);
});

test("auth: token lists by kind, each token long enough; a token is never echoed", () => {
    assert.deepEqual(validateConfig({ auth: { ingestTokens: ["ingest-token-0123456789"] } }).auth, { ingestTokens: ["ingest-token-0123456789"] });
    assert.deepEqual(validateConfig({}).auth, {});
    const problems = problemsOf({ auth: { ingestTokens: ["short-secret"], adminTokens: [], colour: 1 } });
    assert.deepEqual(problems.sort(), [
        "auth.adminTokens: is not a non-empty list of tokens (set it as a secret: `pulumi config set --secret --path 'auth.adminTokens[0]' <token>`)",
        "auth.colour: unknown key; allowed: ingestTokens, adminTokens",
        "auth.ingestTokens[0]: is not a token (at least 16 characters, no spaces)",
    ]);
    assert.doesNotMatch(problems.join("\n"), /short-secret/);
});

test("stack names must be Docker stack names", () => {
    assert.match(problemsOf({ stackName: "My Stack" })[0], /^stackName: "My Stack"/);
});

const awsBase = { provider: "aws", awsRegion: "eu-west-1" };

test("aws: sshAllowedCidrs is required, and 0.0.0.0/0 needs the explicit opt-in", () => {
    assert.ok(problemsOf({ ...awsBase }).some((p) => p.startsWith("aws: required when provider is \"aws\"")));
    assert.ok(problemsOf({ ...awsBase, aws: {} }).some((p) => p.startsWith("aws.sshAllowedCidrs: required")));
    assert.ok(problemsOf({ ...awsBase, aws: { sshAllowedCidrs: ["0.0.0.0/0"] } }).some((p) => /opens SSH to the whole internet/.test(p)));
    const open = settingsOf(validateConfig({ ...awsBase, aws: { sshAllowedCidrs: ["0.0.0.0/0"], allowSshFromAnywhere: true } }), "aws");
    assert.deepEqual(open.aws.sshAllowedCidrs, ["0.0.0.0/0"]);
    assert.ok(problemsOf({ ...awsBase, aws: { sshAllowedCidrs: ["10.0.0.1"] } }).some((p) => p.startsWith('aws.sshAllowedCidrs: ["10.0.0.1"] is not a non-empty list of IPv4 CIDRs')));
});

test("aws: defaults, region, and checked settings", () => {
    const config = settingsOf(validateConfig({ ...awsBase, managers: 3, workers: 3, aws: { sshAllowedCidrs: ["203.0.113.7/32"] } }), "aws");
    assert.equal(config.aws.availabilityZones, 3);
    assert.deepEqual(config.aws.ingressCidrs, ["203.0.113.7/32"]);
    assert.equal(config.aws.spotWorkers, false);
    assert.deepEqual(validateAws({ sshAllowedCidrs: ["203.0.113.7/32"], ingressCidrs: ["0.0.0.0/0"] }, [])?.ingressCidrs, ["0.0.0.0/0"]);
    assert.ok(problemsOf({ provider: "aws", aws: { sshAllowedCidrs: ["203.0.113.7/32"] } }).some((p) => p.startsWith("aws:region: required")));
    const problems = problemsOf({ ...awsBase, aws: { sshAllowedCidrs: ["203.0.113.7/32"], availabilityZones: 4, vpcId: "vpc-1", volumeSize: 2, spotWorkers: "yes", ami: "ubuntu", colour: 1 } });
    for (const key of ["aws.availabilityZones", "aws.vpcId and aws.subnetIds", "aws.volumeSize", "aws.spotWorkers", "aws.ami", "aws.colour"]) {
        assert.ok(problems.some((p) => p.startsWith(key)), `${key} in ${problems.join("\n")}`);
    }
});

test("registry: an address, and where the machines pull from when it differs", () => {
    assert.deepEqual(validateRegistry({ address: "registry.example.com:5000" }, []), { address: "registry.example.com:5000" });
    assert.deepEqual(validateRegistry({ address: "127.0.0.1:5350", pullAddress: "10.0.0.2:5000" }, []), { address: "127.0.0.1:5350", pullAddress: "10.0.0.2:5000" });
    const hosts = settingsOf(validateConfig({ provider: "hosts", ssh, hosts: [{ host: "h", role: "manager", privateAddress: "10.0.0.1" }], registry: { address: "r.example.com:5000" } }), "hosts");
    assert.deepEqual(hosts.registry, { address: "r.example.com:5000" });
    assert.deepEqual(problemsOf({ registry: { address: "https://x" } }), ['registry.address: "https://x" is not a registry address (host[:port][/path], like "registry.example.com:5000")']);
    assert.ok(problemsOf({ registry: { address: "r:5000", user: "me" } }).some((p) => p.startsWith("registry.user: unknown key")));
});

test("a key of the swarm: namespace that the program does not read is refused, naming the closest known key", () => {
    const setKeys = ["swarm:worker", "swarm:managers", "swarm:dashboard", "aws:region", "swarm:replica"];
    const raw = readRawConfig((k) => ({ managers: "1" })[k], undefined, setKeys, "swarm");
    assert.deepEqual(raw.unknownKeys, ["swarm:worker", "swarm:dashboard", "swarm:replica"]);
    const problems = problemsOf(raw);
    assert.match(problems[0], /^swarm:worker: not a setting of this program; did you mean swarm:workers\? known: provider, managers, workers/);
    assert.match(problems[2], /^swarm:replica: .*did you mean swarm:replicas\?/);
    // Nothing close: no guess, the known keys only.
    assert.match(problems[1], /^swarm:dashboard: not a setting of this program; known: /);
    assert.deepEqual(readRawConfig(() => undefined, undefined, ["swarm:workers", "other:x"]).unknownKeys, []);
});

// A secret put where it does not belong: a key pasted as `ssh`, a token given as a number.
const secret = "hunter2-secret-value";
const pem = ["-----BEGIN OPENSSH", `PRIVATE KEY-----\n${secret}\n-----END OPENSSH`, "PRIVATE KEY-----"].join(" ");

test("ssh, tls and auth given as a string, number or list: the error names the key and the shape, never the value", () => {
    for (const section of ["ssh", "tls", "auth"]) {
        for (const value of [secret, pem, 987654321, [secret]]) {
            const problems = problemsOf({ [section]: value });
            assert.equal(problems.length, 1, problems.join("\n"));
            assert.match(problems[0], new RegExp(`^${section}: .*is not an object \\{`));
            assert.doesNotMatch(problems[0], /hunter2|987654321/);
        }
    }
    assert.deepEqual(problemsOf({ ssh: pem }), [`ssh: a string of ${pem.length} characters on 3 lines (not shown) is not an object {user, publicKey, privateKey}`]);
    assert.deepEqual(problemsOf({ ssh: 987654321 }), ["ssh: a number (not shown) is not an object {user, publicKey, privateKey}"]);
    assert.deepEqual(problemsOf({ ssh: [secret] }), ["ssh: a list of 1 item (not shown) is not an object {user, publicKey, privateKey}"]);
    // The keys inside the section too, whatever their length.
    const inside = problemsOf({ ssh: { user: `${secret}!`, publicKey: secret } });
    assert.deepEqual(inside.map((p) => p.split(":")[0]), ["ssh.user", "ssh.publicKey"]);
    assert.doesNotMatch(inside.join("\n"), /hunter2/);
});

test("elsewhere a value is shown when short and on one line; a long or multi-line one only by its shape", () => {
    assert.deepEqual(problemsOf({ stackName: "My Stack" }), ["stackName: \"My Stack\" is not a Docker stack name (lower-case letters, digits, '-' and '_', at most 40)"]);
    assert.match(problemsOf({ stackName: pem })[0], new RegExp(`^stackName: a string of ${pem.length} characters on 3 lines \\(not shown\\) is not a Docker stack name`));
    assert.match(problemsOf({ stackName: "X".repeat(38) })[0], /^stackName: "X{38}" is not/);
    assert.match(problemsOf({ managers: secret.repeat(3) })[0], /^managers: a string of 60 characters \(not shown\) is not an odd number/);
    assert.equal(show(true, "ssh"), "true");
    assert.equal(show({ a: 1 }, "tls"), "an object with keys a (not shown)");
    // A key named like a secret, in any section (a store's password, say).
    assert.equal(show("short", "redis.password"), "a string of 5 characters (not shown)");
    assert.equal(show(["t"], "auth.ingestTokens"), "a list of 1 item (not shown)");
});

test("a private key, certificate key or token set without --secret is refused, naming the command that sets it as one", () => {
    const values: Record<string, unknown> = {
        ssh,
        tls: { certificate: "-----BEGIN CERTIFICATE-----", privateKey: pem },
        auth: { ingestTokens: [`${secret}-token`] },
        managers: 1,
    };
    const get = (k: string) => (values[k] === undefined ? undefined : JSON.stringify(values[k]));
    const plain = readRawConfig(get, undefined, [], "swarm", () => false);
    assert.deepEqual(plain.plainKeys, ["managers", "ssh", "tls", "auth"]);
    const problems = problemsOf(plain).filter((p) => /without --secret/.test(p));
    assert.deepEqual(problems, [
        "ssh.privateKey: set without --secret, so the stack's config file holds it in plain text; set it again with `pulumi config set --secret --path ssh.privateKey -- <value>`",
        "tls.privateKey: set without --secret, so the stack's config file holds it in plain text; set it again with `pulumi config set --secret --path tls.privateKey -- <value>`",
        "auth.ingestTokens: set without --secret, so the stack's config file holds it in plain text; set it again with `pulumi config set --secret --path 'auth.ingestTokens[0]' -- <value>`",
    ]);
    assert.doesNotMatch(problemsOf(plain).join("\n"), /hunter2/);
    // Set as a secret: the key is taken.
    const secretSsh = readRawConfig(get, undefined, [], "swarm", (k) => k === "swarm:ssh");
    assert.ok(!problemsOf(secretSsh).some((p) => p.startsWith("ssh.")));
    assert.equal(validateConfig(readRawConfig((k) => (k === "ssh" ? JSON.stringify(ssh) : undefined), undefined, [], "swarm", () => true)).ssh.privateKey, key);
});

test("which keys are secrets comes from the Pulumi runtime, which marks an object secret when any part of it is", () => {
    const read = () => readRawConfig((k) => new pulumi.Config("swarm").get(k));
    try {
        // As `pulumi config set --secret --path ssh.privateKey` then `--path ssh.publicKey` leave it.
        pulumi.runtime.setAllConfig({ "swarm:ssh": JSON.stringify(ssh), "swarm:managers": "1" }, ["swarm:ssh"]);
        assert.deepEqual(read().plainKeys, ["managers"]);
        assert.equal(validateConfig(read()).ssh.privateKey, key);
        pulumi.runtime.setAllConfig({ "swarm:ssh": JSON.stringify(ssh) }, []);
        assert.deepEqual(problemsOf(read()), ["ssh.privateKey: set without --secret, so the stack's config file holds it in plain text; set it again with `pulumi config set --secret --path ssh.privateKey -- <value>`"]);
    } finally {
        pulumi.runtime.setAllConfig({}, []);
    }
});

test("aws.overlayPool: by default a range outside the VPC (Docker's 10.0.0.0/8 holds it), or one of yours that is", () => {
    const aws = (raw: Record<string, unknown>) => {
        const problems: string[] = [];
        return { settings: validateAws({ sshAllowedCidrs: ["203.0.113.7/32"], ...raw }, problems), problems };
    };
    assert.equal(aws({}).settings?.overlayPool, "10.128.0.0/14");
    assert.equal(aws({ vpcCidr: "10.128.0.0/16" }).settings?.overlayPool, "10.192.0.0/14");
    assert.equal(aws({ overlayPool: "10.64.0.0/16" }).settings?.overlayPool, "10.64.0.0/16");
    assert.deepEqual(aws({ overlayPool: "10.20.0.0/14" }).problems, [
        "aws.overlayPool: 10.20.0.0/14 overlaps the VPC (aws.vpcCidr 10.20.0.0/16): the overlay networks would take the machines' addresses; choose a range outside it, like 10.128.0.0/14",
    ]);
    assert.match(aws({ overlayPool: "10.64.0.0/24" }).problems[0], /aws\.overlayPool: "10\.64\.0\.0\/24" is not an IPv4 network address with a prefix from \/8 to \/20/);
});

test("monitoring: off by default, true or false (as `pulumi config set` gives it, JSON text) and nothing else", () => {
    assert.equal(validateConfig({}).monitoring, false);
    assert.equal(validateConfig(readRawConfig((key) => (key === "monitoring" ? "true" : undefined), undefined, [], "swarm", () => false)).monitoring, true);
    assert.equal(validateConfig({ monitoring: false }).monitoring, false);
    assert.deepEqual(problemsOf({ monitoring: "yes" }), ["monitoring: \"yes\" is not true or false"]);
});
