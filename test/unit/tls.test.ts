import assert from "node:assert/strict";
import { createHash, createPrivateKey, createPublicKey, KeyObject, X509Certificate } from "node:crypto";
import { createRequire } from "node:module";
import * as path from "node:path";
import { test } from "node:test";
import { BasicConstraintsExtension, KeyUsageFlags, KeyUsagesExtension, X509Certificate as PeculiarCertificate } from "@peculiar/x509";
import * as pulumi from "@pulumi/pulumi";
import { gatewayPem, tokenHashesFile } from "../../components/tls/files";
import {
    caRenewBeforeDays,
    CertificateInputs,
    CertificateOutputs,
    certificateProvider,
    makeCa,
    makeServerCertificate,
    makeToken,
    nameKind,
    normaliseNames,
    planCertificateDiff,
    renewalDue,
    tokenProvider,
} from "../../components/tls/provider";

const day = 24 * 60 * 60 * 1000;
const now = new Date("2030-01-15T12:00:00.000Z");
const names = ["203.0.113.7", "gateway.example.com", "2001:db8::7", "localhost"];

/** The SANs as node prints them, e.g. ["DNS:localhost", "IP Address:203.0.113.7"]. */
const sans = (cert: X509Certificate): string[] => (cert.subjectAltName ?? "").split(", ").sort();
const spki = (key: KeyObject) => key.export({ type: "spki", format: "der" });
/** Whole seconds, as certificates keep their dates. */
const seconds = (ms: number) => new Date(Math.floor(ms / 1000) * 1000);

test("names are IP addresses or DNS names; anything else is refused", () => {
    for (const ip of ["10.0.0.2", "203.0.113.7", "::1", "2001:db8::7", "::ffff:10.0.0.2"]) assert.equal(nameKind(ip), "ip", ip);
    for (const dns of ["localhost", "gateway.example.com", "*.example.com", "a-b.c0.example", "Gateway.Example.COM."]) assert.equal(nameKind(dns), "dns", dns);
    for (const bad of ["", "a b", "-a.example", "a..b", "https://x", "10.0.0.2:443", "x".repeat(64), "fe80::1%eth0"]) {
        assert.throws(() => nameKind(bad), /neither an IP address nor a DNS name/, bad);
    }
});

test("names compare by what they mean, not how they are written", () => {
    assert.deepEqual(normaliseNames(["Gateway.Example.com.", "2001:DB8:0:0::7", "10.0.0.2", "gateway.example.com"]), [
        "10.0.0.2",
        "2001:db8::7",
        "gateway.example.com",
    ]);
});

test("the CA is a P-256 CA for signing certificates only, valid ten years", async () => {
    const ca = await makeCa("proj-dev gateway CA", now);
    const cert = new X509Certificate(ca.certificate);
    assert.equal(cert.ca, true);
    assert.equal(cert.subject, "CN=proj-dev gateway CA");
    assert.equal(cert.issuer, cert.subject);
    assert.ok(cert.verify(cert.publicKey), "self-signed");
    assert.equal(cert.publicKey.asymmetricKeyType, "ec");
    assert.equal(cert.publicKey.asymmetricKeyDetails?.namedCurve, "prime256v1");
    assert.equal(new Date(cert.validTo).getTime(), now.getTime() + 3650 * day);
    assert.equal(ca.notAfter, seconds(now.getTime() + 3650 * day).toISOString());
    assert.match(ca.privateKey, /^-----BEGIN PRIVATE KEY-----\n/, "PKCS#8");
    assert.deepEqual(spki(createPublicKey(ca.privateKey)), spki(cert.publicKey), "the key is the certificate's");
    // keyCertSign and cRLSign only, and a CA that may not make further CAs (pathLen 0).
    const parsed = new PeculiarCertificate(ca.certificate);
    const basic = parsed.getExtension(BasicConstraintsExtension);
    assert.equal(basic?.ca, true);
    assert.equal(basic?.pathLength, 0);
    assert.equal(basic?.critical, true);
    assert.equal(parsed.getExtension(KeyUsagesExtension)?.usages, KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign);
});

test("the server certificate verifies against the CA and names every address and host, each as its kind", async () => {
    const ca = await makeCa("proj-dev gateway CA", now);
    const server = await makeServerCertificate(ca, names, now, 365);
    const cert = new X509Certificate(server.certificate);
    const caCert = new X509Certificate(ca.certificate);
    assert.ok(cert.verify(caCert.publicKey), "signed by the CA");
    assert.ok(cert.checkIssued(caCert), "issued by the CA");
    assert.equal(cert.ca, false);
    assert.deepEqual(sans(cert), ["DNS:gateway.example.com", "DNS:localhost", "IP Address:203.0.113.7", "IP Address:2001:DB8:0:0:0:0:0:7"].sort());
    assert.equal(cert.checkIP("203.0.113.7"), "203.0.113.7");
    assert.equal(cert.checkIP("2001:db8::7"), "2001:db8::7");
    assert.equal(cert.checkHost("gateway.example.com"), "gateway.example.com");
    assert.equal(cert.checkHost("localhost"), "localhost");
    assert.equal(cert.checkHost("other.example.com"), undefined);
    assert.equal(cert.checkIP("203.0.113.8"), undefined);
    // An address is no host name and a host name no address: each only where clients look for it.
    assert.equal(cert.checkHost("203.0.113.7"), undefined);
    assert.deepEqual(cert.keyUsage, ["1.3.6.1.5.5.7.3.1"], "serverAuth");
    assert.equal(cert.publicKey.asymmetricKeyDetails?.namedCurve, "prime256v1");
    assert.equal(new Date(cert.validTo).getTime(), now.getTime() + 365 * day);
    assert.equal(server.notAfter, seconds(now.getTime() + 365 * day).toISOString());
    assert.ok(new Date(cert.validFrom).getTime() < now.getTime(), "valid a little before it was made, for clocks behind");
});

test("the server key is PKCS#8 and belongs to the certificate", async () => {
    const ca = await makeCa("ca", now);
    const server = await makeServerCertificate(ca, ["10.0.0.2"], now);
    assert.match(server.privateKey, /^-----BEGIN PRIVATE KEY-----\n[A-Za-z0-9+/=\n]+-----END PRIVATE KEY-----\n$/);
    const cert = new X509Certificate(server.certificate);
    assert.ok(cert.checkPrivateKey(createPrivateKey(server.privateKey)));
    assert.ok(!cert.checkPrivateKey(createPrivateKey(ca.privateKey)));
});

test("a server certificate needs a name", async () => {
    const ca = await makeCa("ca", now);
    await assert.rejects(makeServerCertificate(ca, [], now), /at least one name/);
});

test("renewal is due from notAfter - renewBeforeDays on, not a millisecond before", () => {
    const notAfter = "2030-06-30T00:00:00.000Z";
    const from = Date.parse(notAfter) - 30 * day;
    assert.equal(renewalDue(notAfter, 30, new Date(from - 1)), false);
    assert.equal(renewalDue(notAfter, 30, new Date(from)), true);
    assert.equal(renewalDue(notAfter, 30, new Date(from + day)), true);
    assert.equal(renewalDue(notAfter, 30, new Date(Date.parse(notAfter) + day)), true, "an ended certificate");
    assert.equal(renewalDue(notAfter, 0, new Date(Date.parse(notAfter) - 1)), false);
    assert.equal(renewalDue("not a date", 30, now), true, "what cannot be read is renewed");
});

test("tokens are their kind, then 32 random bytes base64url; never the same twice", () => {
    const tokens = Array.from({ length: 50 }, () => makeToken("ingest"));
    for (const token of tokens) {
        assert.match(token, /^ingest_[A-Za-z0-9_-]{43}$/);
        assert.equal(Buffer.from(token.slice("ingest_".length), "base64url").length, 32);
    }
    assert.equal(new Set(tokens).size, tokens.length);
});

test("the hashes file: a sorted line per token, role then sha256 hex, ending with a newline", () => {
    const sha = (text: string) => createHash("sha256").update(text).digest("hex");
    const file = tokenHashesFile({ ingest: ["ingest_b", "ingest_a"], admin: ["admin_x"] });
    const expected = [`admin ${sha("admin_x")}`, `ingest ${sha("ingest_a")}`, `ingest ${sha("ingest_b")}`].sort();
    assert.equal(file, expected.join("\n") + "\n");
    assert.match(file, /^(?:(?:admin|ingest) [0-9a-f]{64}\n)+$/);
    assert.doesNotMatch(file, /ingest_a|admin_x/, "no token in the clear");
    assert.equal(tokenHashesFile({ ingest: ["t", "t"], admin: [] }), `ingest ${sha("t")}\n`, "a token given twice is one line");
    assert.equal(tokenHashesFile({ ingest: [], admin: [] }), "");
    assert.throws(() => tokenHashesFile({ ingest: [""], admin: [] }), /empty ingest token/);
});

test("haproxy's PEM is the certificate, then the key", async () => {
    const ca = await makeCa("ca", now);
    const server = await makeServerCertificate(ca, ["localhost"], now);
    const pem = gatewayPem(server.certificate, server.privateKey);
    assert.equal(pem, `${server.certificate.trim()}\n${server.privateKey.trim()}\n`);
    assert.ok(pem.indexOf("BEGIN CERTIFICATE") < pem.indexOf("BEGIN PRIVATE KEY"));
    assert.equal(new X509Certificate(pem).fingerprint256, new X509Certificate(server.certificate).fingerprint256);
    assert.throws(() => gatewayPem(server.privateKey, server.certificate), /not a PEM certificate/);
});

test("provider: create makes the CA and a server certificate it signed", async () => {
    const inputs = (await certificateProvider.check({} as CertificateInputs, { names, caCommonName: "proj-dev gateway CA" })).inputs;
    assert.equal(inputs.validityDays, 365);
    assert.equal(inputs.renewBeforeDays, 30);
    const { id, outs } = await certificateProvider.create(inputs);
    assert.match(id, /^[0-9a-f]{32}$/);
    const caCert = new X509Certificate(outs.caCertificate);
    const cert = new X509Certificate(outs.certificate);
    assert.equal(caCert.subject, "CN=proj-dev gateway CA");
    assert.ok(cert.verify(caCert.publicKey));
    assert.ok(cert.checkPrivateKey(createPrivateKey(outs.privateKey)));
    assert.equal(outs.notAfter, new Date(cert.validTo).toISOString());
    assert.deepEqual(outs.names, normaliseNames(names));
    // Fresh: nothing to do.
    assert.deepEqual(await certificateProvider.diff(id, outs, inputs), { changes: false, replaces: [], diffs: [] });
    assert.deepEqual(planCertificateDiff(outs, { ...inputs, names: [...names].reverse() }, new Date()).changes, false, "order does not matter");
});

test("provider: new names are an update that keeps the CA and issues a new certificate for them", async () => {
    const inputs: CertificateInputs = { names: ["10.0.0.2"], validityDays: 365, renewBeforeDays: 30, caCommonName: "ca" };
    const { id, outs } = await certificateProvider.create(inputs);
    const news = { ...inputs, names: ["10.0.0.2", "10.0.0.3", "gw.example.com"] };
    assert.deepEqual(await certificateProvider.diff(id, outs, news), { changes: true, replaces: [], diffs: ["names"] });
    const updated = (await certificateProvider.update(id, outs, news)).outs;
    assert.equal(updated.caCertificate, outs.caCertificate, "the same CA");
    assert.equal(updated.caPrivateKey, outs.caPrivateKey);
    assert.notEqual(updated.certificate, outs.certificate);
    assert.notEqual(updated.privateKey, outs.privateKey, "a new key with the new certificate");
    const cert = new X509Certificate(updated.certificate);
    assert.ok(cert.verify(new X509Certificate(outs.caCertificate).publicKey), "clients that trust the CA trust it");
    assert.equal(cert.checkIP("10.0.0.3"), "10.0.0.3");
    assert.equal(cert.checkHost("gw.example.com"), "gw.example.com");
    assert.deepEqual(await certificateProvider.diff(id, updated, news), { changes: false, replaces: [], diffs: [] });
});

test("provider: a certificate within renewBeforeDays of its end is renewed by the same CA", async () => {
    const inputs: CertificateInputs = { names: ["10.0.0.2"], validityDays: 365, renewBeforeDays: 30, caCommonName: "ca" };
    const { id, outs } = await certificateProvider.create(inputs);
    const ending = new Date(Date.now() + 29 * day).toISOString();
    const due: CertificateOutputs = { ...outs, notAfter: ending };
    assert.deepEqual(await certificateProvider.diff(id, due, inputs), { changes: true, replaces: [], diffs: ["certificate"] });
    assert.deepEqual(await certificateProvider.diff(id, { ...outs, notAfter: new Date(Date.now() + 31 * day).toISOString() }, inputs), {
        changes: false,
        replaces: [],
        diffs: [],
    });
    const renewed = (await certificateProvider.update(id, due, inputs)).outs;
    assert.equal(renewed.caCertificate, outs.caCertificate);
    assert.ok(Date.parse(renewed.notAfter) > Date.now() + 364 * day);
    // The clock as a value: the same state is due at one time and not at another.
    const end = Date.parse(outs.notAfter);
    assert.equal(planCertificateDiff(outs, inputs, new Date(end - 30 * day - 1)).changes, false);
    assert.deepEqual(planCertificateDiff(outs, inputs, new Date(end - 30 * day)).diffs, ["certificate"]);
});

test("provider: a CA in its last year is made anew, with a certificate it signed", async () => {
    const inputs: CertificateInputs = { names: ["10.0.0.2"], validityDays: 365, renewBeforeDays: 30, caCommonName: "ca" };
    const { id, outs } = await certificateProvider.create(inputs);
    const old: CertificateOutputs = { ...outs, caNotAfter: new Date(Date.now() + (caRenewBeforeDays - 1) * day).toISOString() };
    assert.deepEqual(await certificateProvider.diff(id, old, inputs), { changes: true, replaces: [], diffs: ["caCertificate"] });
    const renewed = (await certificateProvider.update(id, old, inputs)).outs;
    assert.notEqual(renewed.caCertificate, outs.caCertificate);
    assert.ok(new X509Certificate(renewed.certificate).verify(new X509Certificate(renewed.caCertificate).publicKey));
});

test("provider: a changed validity issues anew; names not known yet (a preview) may differ", async () => {
    const inputs: CertificateInputs = { names: ["10.0.0.2"], validityDays: 365, renewBeforeDays: 30 };
    const { id, outs } = await certificateProvider.create(inputs);
    assert.deepEqual((await certificateProvider.diff(id, outs, { ...inputs, validityDays: 90 })).diffs, ["validityDays"]);
    const unknown = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
    assert.equal((await certificateProvider.diff(id, outs, { ...inputs, names: unknown as unknown as string[] })).changes, true);
    assert.equal((await certificateProvider.diff(id, outs, { ...inputs, names: ["10.0.0.2", unknown] })).changes, true);
    assert.deepEqual((await certificateProvider.check({} as CertificateInputs, { ...inputs, names: [unknown] })).failures, []);
});

test("provider: check refuses bad names, and a renewal window that would renew on every up", async () => {
    const failures = async (news: CertificateInputs) => (await certificateProvider.check({} as CertificateInputs, news)).failures.map((f) => f.property);
    assert.deepEqual(await failures({ names: [] }), ["names"]);
    assert.deepEqual(await failures({ names: ["10.0.0.2", "not a name"] }), ["names"]);
    assert.deepEqual(await failures({ names: ["10.0.0.2"], validityDays: 0 }), ["validityDays"]);
    assert.deepEqual(await failures({ names: ["10.0.0.2"], validityDays: 1000 }), ["validityDays"]);
    assert.deepEqual(await failures({ names: ["10.0.0.2"], validityDays: 30, renewBeforeDays: 30 }), ["renewBeforeDays"]);
    assert.deepEqual(await failures({ names: ["10.0.0.2"], validityDays: 90, renewBeforeDays: 14 }), []);
});

test("tokens provider: one distinct token per kind, kept until the kinds change", async () => {
    assert.deepEqual((await tokenProvider.check({ kinds: [] }, { kinds: ["ingest", "admin"] })).failures, []);
    const { id, outs } = await tokenProvider.create({ kinds: ["ingest", "admin"] });
    assert.deepEqual(Object.keys(outs.tokens).sort(), ["admin", "ingest"]);
    assert.match(outs.tokens.ingest, /^ingest_[A-Za-z0-9_-]{43}$/);
    assert.match(outs.tokens.admin, /^admin_[A-Za-z0-9_-]{43}$/);
    assert.notEqual(outs.tokens.ingest.split("_").slice(1).join("_"), outs.tokens.admin.split("_").slice(1).join("_"));
    const other = await tokenProvider.create({ kinds: ["ingest", "admin"] });
    assert.notEqual(other.outs.tokens.ingest, outs.tokens.ingest, "random, not derived");

    assert.deepEqual(await tokenProvider.diff(id, outs, { kinds: ["admin", "ingest"] }), { changes: false, replaces: [], diffs: [] });
    const news = { kinds: ["ingest", "admin", "reader"] };
    assert.deepEqual(await tokenProvider.diff(id, outs, news), { changes: true, replaces: [], diffs: ["kinds"] });
    const updated = (await tokenProvider.update(id, outs, news)).outs;
    assert.equal(updated.tokens.ingest, outs.tokens.ingest, "the kinds kept keep their tokens");
    assert.equal(updated.tokens.admin, outs.tokens.admin);
    assert.match(updated.tokens.reader, /^reader_/);
    const dropped = (await tokenProvider.update(id, updated, { kinds: ["ingest"] })).outs;
    assert.deepEqual(dropped.tokens, { ingest: outs.tokens.ingest });
});

test("tokens provider: check wants distinct lower-case word kinds", async () => {
    const failures = async (kinds: string[]) => (await tokenProvider.check({ kinds: [] }, { kinds })).failures.map((f) => f.reason);
    assert.equal((await failures([])).length, 1);
    assert.match((await failures(["in gest", "Admin", "a_b"]))[0], /"in gest", "Admin", "a_b"/);
    assert.deepEqual(await failures(["ingest", "ingest"]), ["each kind once"]);
});

test("the providers survive serialization into the state: node_modules only, and they work when re-required", async () => {
    const load = createRequire(path.resolve(__dirname, "../../package.json"));
    /** As the dynamic-provider host does: serialize, then evaluate the text as a module. */
    const revive = async <P>(provider: P): Promise<{ required: string[]; revived: P }> => {
        const { text } = await pulumi.runtime.serializeFunction(() => provider, { allowSecrets: true });
        const exports: { handler?: () => P } = {};
        new Function("exports", "require", text)(exports, load);
        assert.ok(exports.handler);
        return { required: [...text.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]), revived: exports.handler() };
    };
    const certificates = await revive(certificateProvider);
    const tokens = await revive(tokenProvider);
    for (const { required } of [certificates, tokens]) {
        assert.deepEqual(required.filter((name) => name.startsWith(".") || name.startsWith("/")), [], "no module of the program");
    }
    const { outs } = await certificates.revived.create({ names: ["10.0.0.2"], caCommonName: "ca" });
    assert.ok(new X509Certificate(outs.certificate).verify(new X509Certificate(outs.caCertificate).publicKey));
    assert.match((await tokens.revived.create({ kinds: ["ingest"] })).outs.tokens.ingest, /^ingest_/);
});
