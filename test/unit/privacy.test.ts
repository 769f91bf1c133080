import assert from "node:assert/strict";
import { test } from "node:test";
import { parseDuration, parseSize, privacyDefaults, storeDefaults, validatePrivacy, validateStore } from "../../components/pipeline/config";

const problemsOf = (check: (problems: string[]) => unknown): string[] => {
    const problems: string[] = [];
    check(problems);
    return problems;
};

test("durations and sizes: the units config takes", () => {
    assert.equal(parseDuration("400d"), 400 * 86_400);
    assert.equal(parseDuration("60s"), 60);
    assert.equal(parseDuration("12h"), 43_200);
    assert.equal(parseDuration("1y"), undefined);
    assert.equal(parseSize("256mb"), 256 * 1024 * 1024);
    assert.equal(parseSize("2GB"), 2 * 1024 ** 3);
    assert.equal(parseSize("100"), undefined);
});

test("privacy: 400 days and Politics by default; retention and sensitive nodes from config; bad values named", () => {
    assert.deepEqual(validatePrivacy(undefined, []), privacyDefaults);
    assert.equal(privacyDefaults.retentionSeconds, 400 * 86_400);
    assert.deepEqual(validatePrivacy({ retention: "60s", sensitive: ["PV1501", " Gambling "] }, []), { retentionSeconds: 60, sensitive: ["PV1501", "Gambling"] });
    assert.deepEqual(problemsOf((p) => validatePrivacy({ retention: "forever" }, p)), ['privacy.retention: "forever" is not a duration like "400d", "12h" or "60s"']);
    assert.match(problemsOf((p) => validatePrivacy({ sensitive: "Politics" }, p))[0], /privacy.sensitive: "Politics" is not a list/);
    assert.match(problemsOf((p) => validatePrivacy({ retension: "1d" }, p))[0], /privacy.retension: unknown key; allowed: retention, sensitive/);
});

test("store: maxmemory from 16mb, passwords as secrets never echoed", () => {
    assert.deepEqual(validateStore(undefined, undefined, []), storeDefaults);
    const settings = validateStore({ maxMemory: "64mb", password: "r".repeat(24) }, { password: "n".repeat(24) }, []);
    assert.deepEqual(settings, { maxMemoryBytes: 64 * 1024 * 1024, redisPassword: "r".repeat(24), natsPassword: "n".repeat(24) });
    assert.match(problemsOf((p) => validateStore({ maxMemory: "1mb" }, undefined, p))[0], /redis.maxMemory: "1mb" is not a size from "16mb" to "64gb"/);
    const secret = "short secret";
    const problems = problemsOf((p) => validateStore({ password: secret }, { password: secret }, p));
    assert.equal(problems.length, 2);
    for (const problem of problems) assert.ok(!problem.includes(secret), problem);
    assert.ok(!problemsOf((p) => validateStore(secret, secret, p)).join().includes(secret));
});
