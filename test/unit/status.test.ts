// `npm run status`: the manager's script run against a stand-in docker, and the parsing and
// rendering of what it prints.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { consumerLags, parseStatus, renderStatus, statusScript } from "../../components/status";

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

test("the status script prints machines, services, tasks and the consumers of the stack's NATS server on this manager", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "status-"));
    try {
        const answers = `case "$*" in
  "node ls --format"*) echo "m-0|manager Leader|Ready|Active"; echo "w-0|worker|Down|Active" ;;
  "node ls --quiet") echo n1; echo n2 ;;
  "service ls"*) echo "cat_collector|2/2|reg/pipeline:1" ;;
  "node ps"*) echo "m-0|cat_collector.1|Running 2 minutes ago" ;;
  "ps --quiet"*"service.name=cat_nats") echo abc ;;
  "exec abc curl"*) echo '${JSON.stringify(jsz)}' ;;
esac`;
        fs.writeFileSync(path.join(dir, "docker"), `#!/bin/sh\n${answers}\n`, { mode: 0o755 });
        const result = spawnSync("/bin/sh", ["-c", statusScript("cat")], { encoding: "utf8", env: { ...process.env, PATH: `${dir}:${process.env.PATH}` } });
        assert.equal(result.status, 0, result.stderr);
        const status = parseStatus(result.stdout);
        assert.deepEqual(status.machines, [["m-0", "manager Leader", "Ready", "Active"], ["w-0", "worker", "Down", "Active"]]);
        assert.deepEqual(status.services, [["cat_collector", "2/2", "reg/pipeline:1"]]);
        assert.deepEqual(status.tasks, [["m-0", "cat_collector.1", "Running 2 minutes ago"]]);
        assert.deepEqual(status.consumers, consumerLags(jsz));
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
});

test("consumer lag is read from NATS's /jsz answer: waiting and unacknowledged per consumer", () => {
    assert.deepEqual(consumerLags(jsz), [
        { stream: "EVENTS", consumer: "categoriser", pending: 12, unacked: 3 },
        { stream: "CATEGORISED", consumer: "profile-writer", pending: 0, unacked: 0 },
    ]);
    assert.deepEqual(consumerLags({}), []);
});

test("one screen: a machine that is down shows as down, with its tasks, the services and the pipeline", () => {
    const status = parseStatus(
        "== machines\nm-0|manager Leader|Ready|Active\nw-0|worker|Down|Active\n== services\ncat_collector|1/2|reg/pipeline:1\n" +
            "== tasks\nm-0|cat_collector.1|Running 2 minutes ago\nm-0|cat_gateway.8nsk9pwbk91m55wsq2iqz5jiw|Running 3 minutes ago\nm-0|cat_collector.2|Preparing 1 second ago\n== pipeline\n",
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
