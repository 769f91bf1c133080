// `npm run status`: the manager's script run against a stand-in docker, and the parsing and
// rendering of what it prints.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { consumerLags, parseStatus, renderStatus, statusScript, logsProblems, logsScript } from "../../components/status";

const jsz = {
    account_details: [
        {
            name: "$G",
            stream_detail: [
                { name: "EVENTS", consumer_detail: [{ name: "categoriser", num_pending: 12, num_ack_pending: 3 }] },
                { name: "CATEGORISED", consumer_detail: [{ name: "profile-writer", num_pending: 0, num_ack_pending: 0 }] },
            ],
        },
    ],
};

/**
 * Runs the status script of stack `cat` against a stand-in docker whose body is `answers` (sh, `$*`
 * holds the arguments). `json ROW...` there prints each row as docker does for `--format`: the
 * template given, with the row where it says `{{json .}}`.
 */
function runStatus(answers: string): { status: number | null; stdout: string; stderr: string } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "status-"));
    try {
        const json = `format= previous=
for arg; do [ "$previous" = --format ] && format=$arg; previous=$arg; done
json() { for row; do printf '%s%s%s\\n' "\${format%%"{{json .}}"*}" "$row" "\${format#*"{{json .}}"}"; done; }`;
        fs.writeFileSync(path.join(dir, "docker"), `#!/bin/sh\n${json}\n${answers}\n`, { mode: 0o755 });
        const result = spawnSync("/bin/sh", ["-c", statusScript("cat")], { encoding: "utf8", env: { ...process.env, PATH: `${dir}:${process.env.PATH}` } });
        return { status: result.status, stdout: result.stdout, stderr: result.stderr };
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

/** Rows as `docker ... --format '{{json .}}'` prints them. */
const rows = {
    leader: '{"Availability":"Active","EngineVersion":"27.3.1","Hostname":"m-0","ID":"n1","ManagerStatus":"Leader","Self":true,"Status":"Ready","TLSStatus":"Ready"}',
    worker: '{"Availability":"Active","EngineVersion":"27.3.1","Hostname":"w-0","ID":"n2","ManagerStatus":"","Self":false,"Status":"Down","TLSStatus":"Ready"}',
    collector: '{"ID":"s1","Image":"reg/pipeline:1","Mode":"replicated","Name":"cat_collector","Ports":"","Replicas":"2/2"}',
    task: '{"CurrentState":"Running 2 minutes ago","DesiredState":"Running","Error":"","ID":"t1","Image":"reg/pipeline:1","Name":"cat_collector.1","Node":"m-0","Ports":""}',
};

test("the status script prints machines, services, tasks and the consumers of the stack's NATS server on this manager", () => {
    // `docker node ps` of both nodes repeats the task; the NATS server's answer spans lines.
    const result = runStatus(`case "$*" in
  "node ls --format"*) json '${rows.leader}' '${rows.worker}' ;;
  "node ls --quiet") echo n1; echo n2 ;;
  "service ls"*) json '${rows.collector}' ;;
  "node ps"*) json '${rows.task}' '${rows.task}' ;;
  "ps --filter label=com.docker.stack.namespace=cat --format {{.ID}} {{.Label \\"com.docker.swarm.service.name\\"}}") echo "xyz cat_gateway"; echo "abc cat_nats" ;;
  "exec abc curl"*) echo '${JSON.stringify(jsz, null, 2)}' ;;
esac`);
    assert.equal(result.status, 0, result.stderr);
    const status = parseStatus(result.stdout);
    assert.deepEqual(status.machines, [["m-0", "manager Leader", "Ready", "Active"], ["w-0", "worker", "Down", "Active"]]);
    assert.deepEqual(status.services, [["cat_collector", "2/2", "reg/pipeline:1"]]);
    assert.deepEqual(status.tasks, [["m-0", "cat_collector.1", "Running 2 minutes ago"]]);
    assert.deepEqual(status.consumers, consumerLags(jsz));
});

test("the status script is one JSON object a line; it finds the NATS server of a stack of several (nats-0, nats-1...)", () => {
    const answers = `case "$*" in
  "node ls --format"*) json '${rows.leader}' ;;
  "service ls"*) json '${rows.collector}' ;;
  "ps --filter"*) echo "xyz cat_nats-data-mover"; echo "abc cat_nats-1" ;;
  "exec abc curl"*) echo '${JSON.stringify(jsz)}' ;;
esac`;
    const result = runStatus(answers);
    assert.equal(result.status, 0, result.stderr);
    const lines = result.stdout.trim().split("\n");
    assert.deepEqual(lines.map((line) => Object.keys(JSON.parse(line) as object)), [["machine"], ["service"], ["consumers"]]);
    assert.deepEqual(parseStatus(result.stdout).consumers, consumerLags(jsz));
    // A NATS server that does not answer fails the script, saying so (the next manager is tried).
    const silent = runStatus(answers.replace(/"exec abc curl".*\n/, ""));
    assert.notEqual(silent.status, 0);
    assert.match(silent.stderr, /the NATS server of stack cat \(abc\) did not answer/);
    // No NATS server of the stack here: no consumers.
    assert.equal(parseStatus(runStatus(answers.replace(/"ps --filter".*\n/, "")).stdout).consumers, undefined);
    assert.throws(() => parseStatus("== machines\n"), /not JSON: == machines/);
});

test("consumer lag is read from NATS's /jsz answer: waiting and unacknowledged per consumer", () => {
    assert.deepEqual(consumerLags(jsz), [
        { stream: "EVENTS", consumer: "categoriser", pending: 12, unacked: 3 },
        { stream: "CATEGORISED", consumer: "profile-writer", pending: 0, unacked: 0 },
    ]);
    assert.deepEqual(consumerLags({}), []);
});

test("one screen: a machine that is down shows as down, with its tasks, the services and the pipeline", () => {
    const task = (Name: string, CurrentState: string) => ({ task: { Node: "m-0", Name, CurrentState } });
    const status = parseStatus(
        [
            { machine: { Hostname: "m-0", ManagerStatus: "Leader", Status: "Ready", Availability: "Active" } },
            { machine: { Hostname: "w-0", ManagerStatus: "", Status: "Down", Availability: "Active" } },
            { service: { Name: "cat_collector", Replicas: "1/2", Image: "reg/pipeline:1" } },
            task("cat_collector.1", "Running 2 minutes ago"),
            task("cat_gateway.8nsk9pwbk91m55wsq2iqz5jiw", "Running 3 minutes ago"),
            task("cat_collector.2", "Preparing 1 second ago"),
        ]
            .map((record) => JSON.stringify(record))
            .join("\n") + "\n",
    );
    const screen = renderStatus({ stack: "cat", readFrom: "m-1", unreachable: ["m-0 (connection refused)"], status, activity: { eventsPerSecond: 12.25, profiles: 40 } });
    assert.match(screen, /^read from m-1; no answer from m-0 \(connection refused\)/);
    assert.match(screen, /^w-0 +worker +down +active$/m);
    assert.match(screen, /^cat_collector +1\/2 +reg\/pipeline:1$/m);
    assert.match(screen, /^m-0: cat_collector\.1, cat_gateway, cat_collector\.2 \(preparing 1 second ago\)$/m);
    assert.match(screen, /^w-0: no tasks$/m);
    assert.match(screen, /^events\/s over the last minute: 12\.3$/m);
    assert.match(screen, /^profiles: 40$/m);
    assert.match(screen, /^consumer lag: no NATS server of the stack on that manager$/m);
    assert.match(renderStatus({ stack: "cat", readFrom: "m-0", unreachable: [], status, activity: "no gateway answered" }), /^events\/s and profiles: no gateway answered$/m);
});

test("logs: a service name and a --since that docker takes, or the problems; the script gets them as parameters", () => {
    assert.deepEqual(logsProblems({ stack: "categorisation", service: "collector", since: "1h30m", follow: false }), []);
    assert.deepEqual(logsProblems({ stack: "categorisation", service: "collector", since: "2026-12-07T10:00:00", follow: true }), []);
    assert.deepEqual(logsProblems({ stack: "categorisation", service: "collector; rm -rf /", since: "yesterday", follow: false }), [
        "\"collector; rm -rf /\" is not a service name (like collector)",
        "--since \"yesterday\" is not a duration (10m, 1h30m) or a time (2026-12-07T10:00:00)",
    ]);
    const script = logsScript({ stack: "categorisation", service: "collector", since: "10m", follow: true });
    assert.match(script, /^STACK='categorisation'\nSERVICE='collector'\nSINCE='10m'\nFOLLOW='true'$/m);
    assert.match(script, /exec docker service logs "\$@" "\$name"/);
    assert.match(logsScript({ stack: "s", service: "api", follow: false }), /^SINCE=''$/m);
});

test("logs script, against a stand-in docker: the service's logs with the options asked; a missing service names the stack's services", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "logs-"));
    const run = (service: string, since?: string) => spawnSync("/bin/sh", ["-c", logsScript({ stack: "cat", service, since, follow: since !== undefined })], {
        encoding: "utf8",
        env: { ...process.env, PATH: `${dir}:${process.env.PATH}` },
    });
    try {
        fs.writeFileSync(path.join(dir, "docker"), `#!/bin/sh
case "$1 $2" in
"service inspect") [ "$3" = cat_collector ] ;;
"service ls") printf 'cat_collector\\ncat_profile-api\\n' ;;
"service logs") echo "logs: $*" ;;
esac
`, { mode: 0o755 });
        assert.equal(run("collector", "10m").stdout, "logs: service logs --timestamps --since 10m --follow cat_collector\n");
        assert.equal(run("collector").stdout, "logs: service logs --timestamps cat_collector\n");
        const missing = run("colector");
        assert.equal(missing.status, 1);
        assert.equal(missing.stderr, "stack cat has no service colector; its services: collector profile-api\n");
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
});
