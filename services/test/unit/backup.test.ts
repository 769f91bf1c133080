// The backup file's pure parts: header and line checks, the whole-file check (end line, counts,
// store key), line splitting, and the conversions between Redis replies, lines and script arguments.
import { test } from "node:test";
import assert from "node:assert/strict";
import { headers } from "@nats-io/nats-core";
import { ConfigError } from "../../src/config.js";
import {
  BackupFileError,
  exitCodeOf,
  failureLine,
  gzipError,
  headersOf,
  interestCounts,
  lines,
  makeHeader,
  messageLine,
  parseHeader,
  parseLine,
  safeMessage,
  StoreKeyMismatch,
  summaryLine,
  userArgs,
  userFromReply,
  usersFound,
  verifyBackup,
  type UserLine,
} from "../../src/backup.js";

const header = makeHeader("the-key", ["EVENTS", "CATEGORISED"], new Date("2025-01-02T03:04:05Z"), "id-1");
const user: UserLine = { kind: "user", h: "ab12", index: "1700000000", meta: { ttl: -1, v: ["epoch", "5", "events", "1", "i:n1", "1"] }, scores: { ttl: 9000, v: ["n1", "0.5", "n2", "1.25"] } };
const message = { kind: "msg", stream: "EVENTS", seq: 7, subject: "events.raw", headers: { "Nats-Msg-Id": ["m1"] }, data: Buffer.from("{}").toString("base64") };
const file = (...body: unknown[]) => [header, ...body].map((l) => JSON.stringify(l));
async function* each(items: string[]): AsyncGenerator<string> {
  yield* items;
}

test("a header: this format and version, every field; anything else is not a backup, said without quoting it", () => {
  assert.deepEqual(header, { format: "categorisation-backup", version: 1, id: "id-1", createdAt: "2025-01-02T03:04:05.000Z", storeKey: "the-key", streams: ["EVENTS", "CATEGORISED"] });
  assert.deepEqual(parseHeader(JSON.stringify(header)), header);
  const refused: Array<[string | undefined, RegExp]> = [
    [undefined, /the input is empty/],
    ["secret-user-42 visited", /not a backup: its first line is not JSON/],
    [JSON.stringify({ format: "something-else", version: 1 }), /not a categorisation-backup header/],
    [JSON.stringify({ ...header, version: 2 }), /a categorisation-backup of version 2: this version reads version 1 only/],
    [JSON.stringify({ ...header, storeKey: undefined }), /lacks a field/],
  ];
  for (const [line, message] of refused) {
    assert.throws(() => parseHeader(line), (e: unknown) => e instanceof BackupFileError && message.test(e.message) && !e.message.includes("secret"));
  }
});

test("lines: users, stats keys, messages and the end line; a malformed one is named by its number, never quoted", () => {
  for (const line of [user, { kind: "user", h: "cd", erased: { ttl: 5, v: "1700" } }, message, { kind: "key", key: "stats:pipeline", type: "hash", ttl: -1, value: ["written", "3"] }, { kind: "end", users: 2, messages: 1 }]) {
    assert.deepEqual(parseLine(JSON.stringify(line), 2), line);
  }
  const refused: Array<[string, RegExp]> = [
    ['{"kind":"user","h":"secret-user-42"', /^line 9: not JSON$/],
    [JSON.stringify({ kind: "profile", h: "ab" }), /^line 9: not a user, key, message or end line$/],
    [JSON.stringify({ ...user, h: "a:b" }), /not a user/],
    [JSON.stringify({ ...user, scores: { ttl: -1, v: ["n1"] } }), /not a user/],
    [JSON.stringify({ ...message, seq: -1 }), /not a user/],
    [JSON.stringify({ kind: "key", key: "user:x:meta", type: "hash", ttl: -1, value: [] }), /not a user/],
    [JSON.stringify({ kind: "end", users: 1.5, messages: 0 }), /not a user/],
  ];
  for (const [line, message] of refused) {
    assert.throws(() => parseLine(line, 9), (e: unknown) => e instanceof BackupFileError && message.test(e.message) && !e.message.includes("secret"));
  }
});

test("a whole file: its counts; refused without its end line, with other counts, with lines after the end, or under another store key", async () => {
  const end = { kind: "end", users: 1, messages: 1 };
  assert.deepEqual(await verifyBackup(each(file(message, user, end)), "the-key"), { header, users: 1, messages: 1 });
  const refused: Array<[string[], string, RegExp]> = [
    [file(message, user), "the-key", /no end line: it is truncated/],
    [file(message, end), "the-key", /the end line counts 1 users and 1 messages, the file holds 0 and 1/],
    [[...file(message, user, end), JSON.stringify(user)], "the-key", /^line 5: after the end line$/],
    [[], "the-key", /the input is empty/],
  ];
  for (const [text, key, message] of refused) {
    await assert.rejects(verifyBackup(each(text), key), (e: unknown) => e instanceof BackupFileError && message.test(e.message));
  }
  // The store key is checked on the header, before the rest is read.
  await assert.rejects(verifyBackup(each([JSON.stringify(header), "not json"]), "another-key"), (e: unknown) =>
    e instanceof StoreKeyMismatch &&
    e.message === "the backup's profiles are keyed under another store key: restore it into a stack that uses the backup's key");
});

test("lines split across chunks, a character split across two chunks included", async () => {
  const text = Buffer.from('{"a":"é"}\n{"b":1}\nlast');
  const at = text.indexOf(0xa9); // the second byte of "é"
  async function* chunks() {
    yield text.subarray(0, at);
    yield text.subarray(at, at + 4);
    yield text.subarray(at + 4);
  }
  const out: string[] = [];
  for await (const line of lines(chunks())) out.push(line);
  assert.deepEqual(out, ['{"a":"é"}', '{"b":1}', "last"]);
});

test("a SCAN step's keys: each user once, by the first of its keys (meta, scores, seen, erased) found", () => {
  const found = usersFound(["user:a:seen", "user:a:scores", "user:b:erased", "stats:pipeline", "user:c:meta", "user:c:seen", "profile:x:meta", "user:d:other"]);
  assert.deepEqual([...found], [["a", 2], ["b", 4], ["c", 1]]);
});

test("a user read from Redis, as a line and back as script arguments (sorted sets in ZADD's order)", () => {
  // ZSCORE, then each key's PTTL (-2: no such key) and content: meta, scores, seen, erased.
  const reply = ["1700000000", 9000, ["epoch", "5", "i:n1", "2"], 9000, ["n1", "0.5", "n2", "1.25"], -2, [], 3000, "1700"];
  const line = userFromReply("ab12", 1, reply);
  assert.deepEqual(line, { kind: "user", h: "ab12", index: "1700000000", meta: { ttl: 9000, v: ["epoch", "5", "i:n1", "2"] }, scores: { ttl: 9000, v: ["n1", "0.5", "n2", "1.25"] }, erased: { ttl: 3000, v: "1700" } });
  assert.deepEqual(userArgs(line!), {
    keys: ["user:ab12:meta", "user:ab12:scores", "user:ab12:seen", "user:ab12:erased"],
    args: ["ab12", "1700000000", "1700", "9000", "9000", "-1", "3000", "4", "4", "0", "epoch", "5", "i:n1", "2", "0.5", "n1", "1.25", "n2"],
  });
  // Found by its scores or erased key while it has a meta hash: read when the scan finds that.
  assert.equal(userFromReply("ab12", 2, reply), undefined);
  assert.equal(userFromReply("ab12", 4, reply), undefined);
  // Only a tombstone left: read by it.
  assert.deepEqual(userFromReply("cd", 4, [null, -2, [], -2, [], -2, [], 5000, "1700"]), { kind: "user", h: "cd", erased: { ttl: 5000, v: "1700" } });
  // Keys gone between the scan and the read: no line.
  assert.equal(userFromReply("gone", 1, [null, -2, [], -2, [], -2, [], -2, null]), undefined);
  assert.deepEqual(userArgs({ kind: "user", h: "x" }).args, ["x", "", "", "-1", "-1", "-1", "-1", "0", "0", "0"]);
  // What the users add to stats:interests.
  assert.deepEqual(interestCounts([line!, { ...user, meta: { ttl: -1, v: ["i:n1", "3", "i:n9", "1", "events", "4"] } }]), ["n1", "5", "n9", "1"]);
});

test("a message as a line and back: subject, payload and headers; an expectation of its first publish is left out", () => {
  const h = headers();
  h.set("Nats-Msg-Id", "m1");
  h.set("Nats-Expected-Last-Sequence", "5");
  const line = messageLine("EVENTS", { seq: 3, subject: "events.raw", data: Buffer.from('{"x":1}'), header: h });
  assert.deepEqual(line, { kind: "msg", stream: "EVENTS", seq: 3, subject: "events.raw", headers: { "Nats-Msg-Id": ["m1"], "Nats-Expected-Last-Sequence": ["5"] }, data: Buffer.from('{"x":1}').toString("base64") });
  const again = headersOf(line)!;
  assert.deepEqual([...again], [["Nats-Msg-Id", ["m1"]]]);
  assert.equal(headersOf(messageLine("CATEGORISED", { seq: 1, subject: "events.categorised", data: new Uint8Array() })), undefined);
});

test("a failure: its exit code, and one stderr line without URLs", () => {
  assert.equal(exitCodeOf(new ConfigError("x")), 2);
  assert.equal(exitCodeOf(new StoreKeyMismatch("x")), 3);
  assert.equal(exitCodeOf(new BackupFileError("x")), 4);
  assert.equal(exitCodeOf(new Error("x")), 1);
  assert.equal(safeMessage(new Error("connect to redis://:hunter2@10.0.0.5:6379 failed\n  at x")), "connect to <url> failed at x");
  assert.equal(failureLine("restore", new BackupFileError("line 3: not JSON")), "restore refused: line 3: not JSON");
  assert.equal(failureLine("backup", new Error("the stream EVENTS does not exist")), "backup failed: the stream EVENTS does not exist");
  assert.equal(failureLine("backup", new ConfigError("NATS_PASSWORD_FILE: the file is empty")), "configuration error: NATS_PASSWORD_FILE: the file is empty");
  const cut = Object.assign(new Error("unexpected end of file"), { code: "Z_BUF_ERROR" });
  assert.match(String((gzipError(cut) as Error).message), /ends early: it is truncated/);
  assert.equal(summaryLine(3, 2, 1000, 3460), '{"users":3,"messages":2,"seconds":2.5}');
});
