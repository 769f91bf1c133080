// The swarm and stack scripts (components/*/scripts/*.sh with components/shell/lib.sh), run for
// real under /bin/sh against a stand-in `docker` that answers as a node would and logs each call.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { renderParams, shellQuote } from "../../components/shell";
import * as stack from "../../components/stack/scripts";
import * as swarm from "../../components/swarm/scripts";
import { labels } from "../../components/types";

interface Run {
    status: number | null;
    stdout: string;
    stderr: string;
    /** The stand-in's calls, one line of arguments each. */
    calls: string[];
}

/**
 * Runs `script` with a `docker` whose body is `answers` (sh, `$*` holds the arguments; each call
 * is logged first) on PATH before the real one.
 */
function runWithDocker(script: string, answers: string, stdin = "", others: Record<string, string> = {}): Run {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "node-scripts-"));
    try {
        const log = path.join(dir, "calls");
        fs.writeFileSync(log, "");
        // Every stand-in manages swarm-1 (deploys check they run on a manager of the swarm meant).
        const swarmId = `case "$*" in "info --format {{.Swarm.Cluster.ID}}") echo swarm-1; exit 0 ;; esac`;
        fs.writeFileSync(path.join(dir, "docker"), `#!/bin/sh\nprintf '%s\\n' "$*" >>'${log}'\n${swarmId}\n${answers}\n`, { mode: 0o755 });
        // sleep is instant here: waits are counted, not felt.
        fs.writeFileSync(path.join(dir, "sleep"), "#!/bin/sh\n", { mode: 0o755 });
        for (const [name, body] of Object.entries(others)) fs.writeFileSync(path.join(dir, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
        const result = spawnSync("/bin/sh", ["-c", script], { input: stdin, encoding: "utf8", env: { ...process.env, PATH: `${dir}:${process.env.PATH}` } });
        return { status: result.status, stdout: result.stdout, stderr: result.stderr, calls: fs.readFileSync(log, "utf8").trim().split("\n").filter(Boolean) };
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

test("parameters survive any value, quotes and newlines included", () => {
    const values = { PLAIN: "plain", QUOTE: "it's", CODE: "$(touch /tmp/pwned)", LINES: "a b\nc", ALONE: "'" };
    const result = spawnSync("/bin/sh", ["-c", `${renderParams(values)}\nprintf '%s|' "$PLAIN" "$QUOTE" "$CODE" "$LINES" "$ALONE"`], { encoding: "utf8" });
    assert.equal(result.stdout, `${Object.values(values).join("|")}|`);
    assert.throws(() => renderParams({ lower: "x" }), /upper-case shell name/);
    assert.equal(shellQuote("it's"), `'it'\\''s'`);
});

test("every rendered script starts with set -eu and parses", () => {
    const scripts = [
        swarm.bootScript(60),
        swarm.readyScript(60),
        swarm.initScript("10.0.0.10", "i-0"),
        swarm.peerScript("manager-0"),
        swarm.dissolveScript(),
        swarm.tokensScript("n0"),
        swarm.joinScript("10.0.0.10", 60),
        swarm.leaveScript(),
        swarm.admitScript("abc123", "worker-0", { "swarm.role": "worker" }, 60),
        swarm.drainScript("abc123", 60),
        swarm.removeScript("i-1", "node-1"),
        swarm.readMembershipScript(),
        stack.readServicesScript("categorisation"),
        stack.readSwarmObjectScript("config", "c"),
        swarm.endpointModeScript(),
        stack.createSwarmObjectScript("secret", "c", { a: "b" }, "swarm-1"),
        stack.removeSwarmObjectScript("config", "c"),
        stack.deployScript("categorisation", 60, "swarm-1"),
        stack.removeScript("categorisation", 60),
        stack.rebalanceScript("categorisation", 60, "swarm-1"),
    ];
    for (const script of scripts) {
        assert.match(script, /^set -eu\n/);
        const parsed = spawnSync("/bin/sh", ["-n"], { input: script, encoding: "utf8" });
        assert.equal(parsed.status, 0, parsed.stderr);
    }
});

test("wait_until gives up after its time with the message, and returns as soon as the condition holds", () => {
    const gaveUp = runWithDocker(swarm.readyScript(0), "exit 1");
    assert.notEqual(gaveUp.status, 0);
    assert.match(gaveUp.stderr, /the Docker engine did not answer within 0s/);
    const answered = runWithDocker(swarm.readyScript(60), "exit 0");
    assert.equal(answered.status, 0, answered.stderr);
    assert.equal(answered.stdout.trim(), os.hostname());
});

test("joining reads the token from stdin, joins the given manager, and never initialises a swarm", () => {
    const script = swarm.joinScript("10.0.0.10", 60);
    assert.doesNotMatch(script, /SWMTKN/);
    const joined = runWithDocker(script, `case "$*" in *LocalNodeState*) echo inactive ;; *NodeID*) echo node-7 ;; esac`, "SWMTKN-1-secret");
    assert.equal(joined.status, 0, joined.stderr);
    assert.equal(joined.stdout.trim(), "node-7");
    assert.ok(joined.calls.includes("swarm join --token SWMTKN-1-secret 10.0.0.10:2377"), joined.calls.join("\n"));
    assert.ok(joined.calls.every((c) => !c.includes("swarm init")));
    const already = runWithDocker(script, `case "$*" in *LocalNodeState*) echo active ;; *NodeID*) echo node-7 ;; esac`, "SWMTKN-1-secret");
    assert.equal(already.status, 0);
    assert.ok(already.calls.every((c) => !c.startsWith("swarm join")), "a member does not join again");
});

test("a worker whose swarm lost its only manager (made anew) leaves it and joins the new one", () => {
    // Active until it leaves.
    const answers = (managers: string) => `case "$*" in *LocalNodeState*) if [ -e "$(dirname "$0")/left" ]; then echo inactive; else echo active; fi ;;
        "swarm leave --force") touch "$(dirname "$0")/left" ;; *RemoteManagers*) echo "${managers}" ;; *NodeID*) echo node-8 ;; esac`;
    const moved = runWithDocker(swarm.joinScript("10.0.0.10", 60, "new0"), answers("old0 "), "SWMTKN-1-secret");
    assert.equal(moved.status, 0, moved.stderr);
    assert.ok(moved.calls.includes("swarm leave --force"));
    assert.ok(moved.calls.includes("swarm join --token SWMTKN-1-secret 10.0.0.10:2377"), moved.calls.join("\n"));
    const member = runWithDocker(swarm.joinScript("10.0.0.10", 60, "new0"), answers("new0 "), "SWMTKN-1-secret");
    assert.ok(member.calls.every((c) => !c.startsWith("swarm leave") && !c.startsWith("swarm join")), member.calls.join("\n"));
});

test("init runs once on manager 0, is skipped on an active manager and refused on a worker", () => {
    const script = swarm.initScript("10.0.0.10", "i-0");
    const fresh = runWithDocker(script, `case "$*" in *LocalNodeState*) echo inactive ;; *NodeID*) echo n0 ;; esac`);
    assert.ok(fresh.calls.includes("swarm init --advertise-addr 10.0.0.10 --listen-addr 10.0.0.10:2377"), fresh.calls.join("\n"));
    assert.equal(fresh.stdout.trim(), "n0");
    const manager = runWithDocker(script, `case "$*" in *LocalNodeState*) echo active ;; *ControlAvailable*) echo true ;; *NodeID*) echo n0 ;; esac`);
    assert.equal(manager.status, 0);
    assert.ok(manager.calls.every((c) => !c.startsWith("swarm init")));
    const worker = runWithDocker(script, `case "$*" in *LocalNodeState*) echo active ;; *ControlAvailable*) echo false ;; esac`);
    assert.notEqual(worker.status, 0);
    assert.match(worker.stderr, /already in a swarm as a worker/);
});

test("a manager 0 made anew joins the other managers' swarm as a manager, trying each; never a second init", () => {
    const script = swarm.initScript("10.0.0.10", "i-1");
    const peers = "SWMTKN-1-mgr 10.0.0.11\nSWMTKN-1-mgr 10.0.0.12\n";
    // The first peer does not answer, the second takes it in.
    const rejoined = runWithDocker(script, `case "$*" in *LocalNodeState*) echo inactive ;; *NodeID*) echo n9 ;; *10.0.0.11:2377) exit 1 ;; esac`, peers);
    assert.equal(rejoined.status, 0, rejoined.stderr);
    assert.deepEqual(rejoined.calls.filter((c) => c.startsWith("swarm")), [
        "swarm join --token SWMTKN-1-mgr --advertise-addr 10.0.0.10 --listen-addr 10.0.0.10:2377 10.0.0.11:2377",
        "swarm join --token SWMTKN-1-mgr --advertise-addr 10.0.0.10 --listen-addr 10.0.0.10:2377 10.0.0.12:2377",
    ]);
    assert.equal(rejoined.stdout.trim(), "n9");
    assert.doesNotMatch(rejoined.stderr, /SWMTKN/);
    // A join that timed out goes on in the background: it is waited for (a second join would be
    // refused: "already part of a swarm"). The state file counts the looks: pending twice, then active.
    const looks = path.join(os.tmpdir(), `init-looks-${process.pid}`);
    fs.writeFileSync(looks, "");
    try {
        const slow = runWithDocker(script, `case "$*" in *LocalNodeState*) n=$(wc -l <'${looks}'); echo x >>'${looks}'; if [ "$n" = 0 ]; then echo inactive; elif [ "$n" -lt 3 ]; then echo pending; else echo active; fi ;; *NodeID*) echo n9 ;; "swarm join"*) echo "Timeout was reached before node joined" >&2; exit 1 ;; esac`, peers);
        assert.equal(slow.status, 0, slow.stderr);
        assert.equal(slow.calls.filter((c) => c.startsWith("swarm join")).length, 1, slow.calls.join("\n"));
        assert.match(slow.stderr, /joined the swarm of the manager at 10\.0\.0\.11 again/);
        assert.equal(slow.stdout.trim(), "n9");
    } finally {
        fs.rmSync(looks, { force: true });
    }
    // A swarm formed with an address pool for its overlay networks (AWS: outside the VPC).
    const pooled = runWithDocker(swarm.initScript("10.0.0.10", "i-0", false, "10.128.0.0/14"), `case "$*" in *LocalNodeState*) echo inactive ;; *NodeID*) echo n1 ;; esac`);
    assert.ok(pooled.calls.includes("swarm init --advertise-addr 10.0.0.10 --listen-addr 10.0.0.10:2377 --default-addr-pool 10.128.0.0/14 --default-addr-pool-mask-length 24"), pooled.calls.join("\n"));
    const refused = runWithDocker(script, `case "$*" in *LocalNodeState*) echo inactive ;; "swarm join"*) exit 1 ;; esac`, peers);
    assert.notEqual(refused.status, 0);
    assert.match(refused.stderr, /the other managers have a swarm, and .* could not join it at any of 10\.0\.0\.11 10\.0\.0\.12/);
    assert.ok(refused.calls.every((c) => !c.startsWith("swarm init")));
});

test("a peer manager names its swarm only when that swarm knew manager 0", () => {
    const knows = runWithDocker(swarm.peerScript("m-0"), `case "$*" in *ControlAvailable*) echo true ;; "node ls --quiet --filter node.label=swarm.node=m-0") echo old0 ;; "swarm join-token -q manager") echo SWMTKN-1-mgr ;; *NodeAddr*) echo 10.0.0.11 ;; esac`);
    assert.equal(knows.stdout, "SWMTKN-1-mgr 10.0.0.11\n");
    const foreign = runWithDocker(swarm.peerScript("m-0"), `case "$*" in *ControlAvailable*) echo true ;; esac`);
    assert.equal(foreign.stdout, "");
    const none = runWithDocker(swarm.peerScript("m-0"), `case "$*" in *ControlAvailable*) echo false ;; esac`);
    assert.equal(none.stdout, "");
});

test("tokens come from manager 0 itself, with the swarm's ID", () => {
    const tokens = runWithDocker(swarm.tokensScript("n0"), `case "$*" in *Swarm.NodeID*) echo n0 ;; *" worker") echo SWMTKN-w ;; *" manager") echo SWMTKN-m ;; *Cluster.ID*) echo swarm-1 ;; esac`);
    assert.deepEqual(JSON.parse(tokens.stdout), { worker: "SWMTKN-w", manager: "SWMTKN-m", swarm: "swarm-1" });
    const elsewhere = runWithDocker(swarm.tokensScript("n0"), `case "$*" in *Swarm.NodeID*) echo n5 ;; esac`);
    assert.notEqual(elsewhere.status, 0);
});

test("admitting waits for Ready, sets the labels exactly as given, and removes this machine's stale Down entries only", () => {
    const answers = `case "$*" in "node inspect --format {{.Status.State}} abc123") echo ready ;; "node ls --quiet") echo abc123; echo old1; echo other ;;
        *"old1") echo "worker-0|i-old|down|worker" ;; *"other") echo "worker-1|i-1|down|worker" ;; *"oldm") echo "worker-0|i-old|down|manager" ;; esac`;
    const admitted = runWithDocker(swarm.admitScript("abc123", "worker-0", { "swarm.role": "worker", "it's": "a b*" }, 60), answers);
    assert.equal(admitted.status, 0, admitted.stderr);
    assert.ok(admitted.calls.includes("node update --label-add it's=a b* --label-add swarm.role=worker abc123"), admitted.calls.join("\n"));
    assert.ok(admitted.calls.includes("node rm old1"), "the Down entry this machine left when it rejoined");
    assert.ok(admitted.calls.every((c) => c !== "node rm other" && c !== "node rm abc123"), "another machine's entry, and its own, stay");
    assert.throws(() => swarm.admitScript("x", "x", { "a=b": "c" }, 1), /no '='/);
    // A manager's stale entry (manager 0 made anew) is demoted before it is removed.
    const manager = runWithDocker(swarm.admitScript("abc123", "worker-0", {}, 60), answers.replace("echo abc123; echo old1; echo other", "echo abc123; echo oldm"));
    assert.deepEqual(manager.calls.filter((c) => c.endsWith("oldm") && !c.startsWith("node inspect")), ["node demote oldm", "node rm oldm"]);
});

test("admitting a machine that left and joined again waits until its earlier entry is Down, then removes it; a machine made anew that is still up stays", () => {
    // The earlier entry of this machine (same instance) counts as up for two more looks, as when
    // the managers have not yet missed its heartbeats; that of a machine made anew stays up.
    const answers = `case "$*" in "node inspect --format {{.Status.State}} abc123") echo ready ;; "node ls --quiet") echo abc123; echo old1; echo replaced ;;
        "node inspect --format {{.Status.State}} old1") n=$(cat "$(dirname "$0")/looks" 2>/dev/null || echo 0); echo $((n + 1)) > "$(dirname "$0")/looks"; [ "$n" -ge 2 ] && echo down || echo ready ;;
        *"old1") echo "worker-0|10.0.0.5:22|ready|worker" ;; *"replaced") echo "worker-0|i-0abc|ready|worker" ;; esac`;
    const admitted = runWithDocker(swarm.admitScript("abc123", "worker-0", { [labels.machine]: "10.0.0.5:22" }, 60), answers);
    assert.equal(admitted.status, 0, admitted.stderr);
    assert.equal(admitted.calls.filter((c) => c === "node inspect --format {{.Status.State}} old1").length, 4, admitted.calls.join("\n"));
    assert.ok(admitted.calls.includes("node rm old1"), admitted.calls.join("\n"));
    assert.ok(admitted.calls.every((c) => c !== "node rm replaced"), "another instance of the machine, still up, is left to its own steps");
});

test("draining demotes a manager before draining it, and waits until its tasks run elsewhere", () => {
    const drained = runWithDocker(swarm.drainScript("abc123", 60), `case "$*" in *ControlAvailable*) echo true ;; *Spec.Role*) echo manager ;; esac`);
    assert.equal(drained.status, 0, drained.stderr);
    const demote = drained.calls.indexOf("node demote abc123");
    const drain = drained.calls.indexOf("node update --availability drain abc123");
    assert.ok(demote >= 0 && demote < drain, drained.calls.join("\n"));
    assert.ok(drained.calls.some((c) => c.startsWith("node ps --quiet --filter desired-state=running abc123")));
    const gone = runWithDocker(swarm.drainScript("abc123", 60), `case "$*" in *ControlAvailable*) echo true ;; "node inspect abc123") exit 1 ;; esac`);
    assert.equal(gone.status, 0, "a node already removed needs no drain");
    assert.equal(gone.calls.length, 2);
    const dissolved = runWithDocker(swarm.drainScript("abc123", 60), `case "$*" in *ControlAvailable*) echo false ;; *) exit 1 ;; esac`);
    assert.equal(dissolved.status, 0, "a swarm already dissolved needs no drain");
});

test("removal takes this machine's Down entry off the list, forces out one that never left (or that a new leader never heard from), and spares a new machine of its name", () => {
    // id1: this machine (instance i-1), gone Down; id2: another node; id3: node-1 made anew (instance i-2), Ready.
    const entries = (state1: string) => `case "$*" in *ControlAvailable*) echo true ;; "node ls --quiet") echo id1; echo id2; echo id3 ;;
        *" id1") echo "id1|i-1|node-1|${state1}" ;; *" id2") echo "id2|i-9|node-2|ready" ;; *" id3") echo "id3|i-2|node-1|ready" ;; esac`;
    const down = runWithDocker(swarm.removeScript("i-1", "node-1"), entries("down"));
    assert.equal(down.status, 0, down.stderr);
    assert.ok(down.calls.includes("node rm id1"));
    assert.ok(down.calls.every((c) => !c.startsWith("node rm") || c === "node rm id1"), down.calls.join("\n"));
    const stuck = runWithDocker(swarm.removeScript("i-1", "node-1", 0), entries("ready"));
    assert.equal(stuck.status, 0, stuck.stderr);
    assert.ok(stuck.calls.includes("node rm --force id1"));
    assert.ok(stuck.calls.every((c) => !c.includes("rm --force id3")), "the machine made anew stays");
    assert.match(stuck.stderr, /node node-1 did not leave the swarm \(.*\): removing it by force/);
    // Unknown: a new leader has not heard from it since it took over (the machine left before).
    const unknown = runWithDocker(swarm.removeScript("i-1", "node-1", 0), entries("unknown"));
    assert.equal(unknown.status, 0, unknown.stderr);
    assert.ok(unknown.calls.includes("node rm --force id1"), unknown.calls.join("\n"));
    const unlabelled = runWithDocker(swarm.removeScript("i-1", "node-1"), `case "$*" in *ControlAvailable*) echo true ;; "node ls --quiet") echo id4 ;; *" id4") echo "id4||node-1|down" ;; esac`);
    assert.ok(unlabelled.calls.includes("node rm id4"), "a node that joined but was never admitted is found by its hostname");
    const dissolved = runWithDocker(swarm.removeScript("i-1", "node-1"), `case "$*" in *ControlAvailable*) echo false ;; *) exit 1 ;; esac`);
    assert.equal(dissolved.status, 0, "a swarm already dissolved has no list to remove from");
});

test("a stack deploy reads its Compose file from stdin and fails in time naming what did not converge", () => {
    const converging = `case "$*" in "service ls --filter"*--format*) echo "cat_collector replicated 2/2"; echo "cat_gateway global 1/1" ;; "service ls --quiet"*) echo s1; echo s2 ;; "service inspect"*) echo "cat_collector completed update completed"; echo "cat_gateway " ;; "stack services"*) echo "cat_collector 2/2" ;; esac`;
    const deployed = runWithDocker(stack.deployScript("cat", 60, "swarm-1"), converging, "services: {}");
    assert.equal(deployed.status, 0, deployed.stderr);
    assert.equal(deployed.calls[0], "info --format {{.Swarm.Cluster.ID}}");
    assert.ok(deployed.calls[1].startsWith("stack deploy --prune --with-registry-auth --compose-file - cat"));
    assert.equal(deployed.stdout.trim(), "cat_collector 2/2");
    // A manager of another swarm (the swarm was formed again) is not deployed to.
    const elsewhere = runWithDocker(stack.deployScript("cat", 60, "swarm-2"), converging);
    assert.notEqual(elsewhere.status, 0);
    assert.match(elsewhere.stderr, /is not a manager of swarm swarm-2/);
    assert.equal(elsewhere.calls.length, 1);
    // Two docker calls per look, whatever the number of services.
    assert.deepEqual(deployed.calls.slice(2, 5), [
        "service ls --filter label=com.docker.stack.namespace=cat --format {{.Name}} {{.Mode}} {{.Replicas}}",
        "service ls --quiet --filter label=com.docker.stack.namespace=cat",
        "service inspect --format {{.Spec.Name}} {{if .UpdateStatus}}{{.UpdateStatus.State}} {{.UpdateStatus.Message}}{{end}} s1 s2",
    ]);
    const stuck = runWithDocker(stack.deployScript("cat", 0, "swarm-1"), converging.replace("cat_collector replicated 2/2", "cat_collector replicated 1/2").replace("cat_gateway global 1/1", "cat_gateway global 0/0"));
    assert.notEqual(stuck.status, 0);
    assert.match(stuck.stderr, /stack cat did not converge within 0s:\n- cat_collector runs 1 of 2\n(.*\n)*- cat_gateway runs 0 of at least 1/);
    const updating = runWithDocker(stack.deployScript("cat", 0, "swarm-1"), converging.replace("cat_collector completed update completed", "cat_collector updating update in progress"));
    assert.match(updating.stderr, /- cat_collector is updating/);
    // While it waits it says what for, beside its resource (progress lines).
    assert.match(stuck.stderr, /^progress: waiting for collector 1\/2 running, gateway 0\/0 running$/m);
    assert.match(updating.stderr, /^progress: waiting for collector updating$/m);
    assert.doesNotMatch(deployed.stderr, /^progress: /m, "a stack that converged at the first look waits for nothing");
});

test("a machine that runs none of the stack's tasks gets some: the spread services get forced updates, one at a time, until it does", () => {
    const moved = path.join(os.tmpdir(), `rebalance-moved-${process.pid}`);
    fs.rmSync(moved, { force: true });
    // m0 and w0 run the stack's tasks, w1 none until a service was moved; w2 is drained. api and
    // web are spread (stateless), nats is not; each update converges at once.
    const swarmOf = (movesNeeded: number) => `case "$*" in
        "node ls --format"*) echo "m0 Ready Active"; echo "w0 Ready Active"; echo "w1 Ready Active"; echo "w2 Ready Drain" ;;
        "node ps m0"*|"node ps w0"*) echo cat_nats.1; echo cat_api.1; echo other_x.1 ;;
        "node ps w1"*) [ "$(cat '${moved}' 2>/dev/null | wc -l)" -ge ${movesNeeded} ] && echo cat_web.2; echo other_y.1 ;;
        "service ls --quiet --filter label="*) echo id-web; echo id-nats; echo id-api ;;
        "service inspect --format {{if .Spec.Mode.Replicated}}"*) case "$*" in *id-api) echo cat_api ;; *id-web) echo cat_web ;; *) echo ;; esac ;;
        "service update --force"*) echo moved >>'${moved}' ;;
        "service ls --filter name="*) echo "x replicated 2/2" ;;
        "service ls --quiet --filter name="*) echo s1 ;;
        "service inspect --format {{.Spec.Name}}"*) echo "x completed" ;;
    esac`;
    try {
        const one = runWithDocker(stack.rebalanceScript("cat", 60, "swarm-1"), swarmOf(1));
        assert.equal(one.status, 0, one.stderr);
        assert.deepEqual(one.calls.filter((c) => c.startsWith("service update")), ["service update --force --detach --quiet cat_api"]);
        assert.match(one.stderr, /^progress: giving cat_api's tasks to w1, which run no task of cat$/m);
        assert.equal(one.stdout, "m0 2\nw0 2\nw1 1\n");
        fs.rmSync(moved, { force: true });
        // Still idle after the first: the next spread service too, and never the data tier.
        const two = runWithDocker(stack.rebalanceScript("cat", 60, "swarm-1"), swarmOf(2));
        assert.deepEqual(two.calls.filter((c) => c.startsWith("service update")), ["service update --force --detach --quiet cat_api", "service update --force --detach --quiet cat_web"]);
        fs.rmSync(moved, { force: true });
        // Every machine busy: nothing moves.
        const busy = runWithDocker(stack.rebalanceScript("cat", 60, "swarm-1"), swarmOf(0));
        assert.equal(busy.status, 0, busy.stderr);
        assert.ok(busy.calls.every((c) => !c.startsWith("service update")), busy.calls.join("\n"));
    } finally {
        fs.rmSync(moved, { force: true });
    }
});

test("a service left with two running tasks in one slot outside an update gets its tasks replaced", () => {
    const duplicated = `case "$*" in "service ls --filter"*--format*) echo "cat_api replicated 4/2" ;; "service ls --quiet"*) echo s1 ;; "service inspect"*) echo "cat_api completed update completed" ;; "node ls --format"*) echo "n1 Ready" ;; "service ps --format {{.Node}} {{.CurrentState}}"*) printf 'n1 Running 1 minute\\n%.0s' 1 2 3 4 ;; "service ps --filter desired-state=running"*) printf 'cat_api.1\\ncat_api.2\\ncat_api.1\\ncat_api.2\\n' ;; esac`;
    const repaired = runWithDocker(stack.deployScript("cat", 0, "swarm-1"), duplicated);
    assert.ok(repaired.calls.includes("service update --force --detach --quiet cat_api"), repaired.calls.join("\n"));
    assert.match(repaired.stderr, /cat_api runs two tasks in slot 1 2 outside an update: replacing its tasks/);
    // A surplus while an update runs (start-first) is the update's own overlap: left alone.
    const overlapping = runWithDocker(stack.deployScript("cat", 0, "swarm-1"), duplicated.replace("cat_api completed update completed", "cat_api updating update in progress"));
    assert.ok(!overlapping.calls.some((c) => c.startsWith("service update")), overlapping.calls.join("\n"));
    const surplusOnly = runWithDocker(stack.deployScript("cat", 0, "swarm-1"), duplicated.replace("cat_api.1\\ncat_api.2\\ncat_api.1\\ncat_api.2", "cat_api.1\\ncat_api.2\\ncat_api.3"));
    assert.ok(!surplusOnly.calls.some((c) => c.startsWith("service update")), surplusOnly.calls.join("\n"));
});

test("tasks still counted on a machine that is down are no surplus; a task being stopped is waited for", () => {
    // `docker service ls` counts a task of a dead machine until it reports; it is no longer meant to run.
    const stale = `case "$*" in "service ls --filter"*--format*) echo "cat_api replicated 3/2" ;; "service ls --quiet"*) echo s1 ;; "service inspect"*) echo "cat_api completed update completed" ;; "node ls --format"*) echo "n1 Ready"; echo "n2 Down" ;; "service ps --format {{.Node}} {{.CurrentState}}"*) echo "n1 Running 1 minute"; echo "n1 Running 2 minutes"; echo "n2 Running 3 minutes"; echo "n1 Shutdown 4 minutes" ;; "stack services"*) echo "cat_api 2/2" ;; esac`;
    const deployed = runWithDocker(stack.deployScript("cat", 0, "swarm-1"), stale);
    assert.equal(deployed.status, 0, deployed.stderr);
    assert.ok(!deployed.calls.some((c) => c.startsWith("service update")), deployed.calls.join("\n"));
    // A task being stopped on a machine that is up still runs: the wait goes on until it has stopped.
    const stopping = runWithDocker(stack.deployScript("cat", 0, "swarm-1"), stale.replace('echo "n2 Down"', 'echo "n2 Ready"'));
    assert.notEqual(stopping.status, 0);
    assert.match(stopping.stderr, /- cat_api runs 3 of 2/);
    assert.ok(!stopping.calls.some((c) => c.startsWith("service update")), stopping.calls.join("\n"));
});

test("a failed update ends the wait at once, with the reason", () => {
    const failing = `case "$*" in "service ls"*--format*) echo "cat_api replicated 1/1" ;; "service ls --quiet"*) echo s1 ;; "service inspect"*) echo "cat_api rollback_completed update rolled back" ;; esac`;
    const drained = runWithDocker(swarm.drainScript("abc123", 600), `case "$*" in *ControlAvailable*) echo true; exit 0 ;; *Spec.Role*) echo worker ;; esac\n${failing}`);
    assert.notEqual(drained.status, 0);
    assert.match(drained.stderr, /cat_api: update rollback_completed: update rolled back/);
});

test("unconverged prints one record a line (service= mode= running= desired=, or service= update=) that unconverged_record reads back; converged holds when there is none", () => {
    const lib = fs.readFileSync(path.join(__dirname, "..", "..", "components", "shell", "lib.sh"), "utf8");
    const services = `case "$*" in "service ls --filter"*--format*) echo "cat_api replicated 3/2"; echo "cat_web replicated 1/2 (max 1 per node)"; echo "cat_gateway global 0/0"; echo "cat_ok replicated 2/2"; echo "cat_edge global 2/2" ;;
        "service ls --quiet"*) echo s1; echo s2; echo s3 ;; "service inspect"*) echo "cat_api completed update completed"; echo "cat_web updating update in progress"; echo "cat_ok " ;;
        "node ls --format"*) echo "n1 Ready"; echo "n2 Ready" ;; "service ps --format {{.Node}} {{.CurrentState}} cat_api") echo "n1 Running 1 minute"; echo "n2 Running 1 minute"; echo "n2 Running 2 minutes" ;; esac`;
    const listed = runWithDocker(`${lib}\nunconverged --filter label=x`, services);
    assert.equal(listed.status, 0, listed.stderr);
    assert.equal(
        listed.stdout,
        "service=cat_api mode=replicated running=3 desired=2\nservice=cat_web mode=replicated running=1 desired=2\nservice=cat_gateway mode=global running=0 desired=0\nservice=cat_web update=updating\n",
    );
    const read = runWithDocker(`${lib}\nunconverged --filter label=x | while read -r r; do unconverged_record "$r"; echo "$service|$mode|$running|$desired|$update"; done`, services);
    assert.equal(read.stdout, "cat_api|replicated|3|2|\ncat_web|replicated|1|2|\ncat_gateway|global|0|0|\ncat_web||||updating\n");
    const converged = (answers: string) => runWithDocker(`${lib}\nif converged --filter label=x; then echo yes; else echo no; fi`, answers).stdout;
    assert.equal(converged(services), "no\n");
    assert.equal(converged(`case "$*" in "service ls --filter"*--format*) echo "cat_ok replicated 2/2"; echo "cat_edge global 2/2" ;; "service ls --quiet"*) echo s1 ;; "service inspect"*) echo "cat_ok " ;; esac`), "yes\n");
});

test("deploy reads unconverged's records: a surplus is repaired though a service whose name starts with its name is updating, and the timeout names each", () => {
    const answers = `case "$*" in "service ls --filter"*--format*) echo "cat_api replicated 4/2"; echo "cat_api-canary replicated 1/1" ;; "service ls --quiet"*) echo s1; echo s2 ;;
        "service inspect"*) echo "cat_api completed update completed"; echo "cat_api-canary updating update in progress" ;; "node ls --format"*) echo "n1 Ready" ;;
        "service ps --format {{.Node}} {{.CurrentState}} cat_api") printf 'n1 Running 1 minute\\n%.0s' 1 2 3 4 ;;
        "service ps --filter desired-state=running --format {{.Name}} cat_api") printf 'cat_api.1\\ncat_api.2\\ncat_api.1\\ncat_api.2\\n' ;;
        "service ps --no-trunc"*" cat_api") echo "    n1 Running 1 minute " ;; esac`;
    const deployed = runWithDocker(stack.deployScript("cat", 0, "swarm-1"), answers);
    assert.notEqual(deployed.status, 0);
    assert.deepEqual(deployed.calls.filter((c) => c.startsWith("service update")), ["service update --force --detach --quiet cat_api"]);
    assert.match(deployed.stderr, /stack cat did not converge within 0s:\n- cat_api runs 4 of 2\n {4}n1 Running 1 minute \n- cat_api-canary is updating\n/);
});

test("a swarm config is created from stdin only when missing", () => {
    const created = runWithDocker(stack.createSwarmObjectScript("config", "tax-1", { "com.docker.stack.namespace": "cat" }, "swarm-1"), `case "$*" in "config inspect"*) exit 1 ;; esac`, "tsv");
    assert.equal(created.calls.at(-1), "config create --label com.docker.stack.namespace=cat tax-1 -");
    const existing = runWithDocker(stack.createSwarmObjectScript("config", "tax-1", {}, "swarm-1"), "exit 0", "tsv");
    assert.deepEqual(existing.calls, ["info --format {{.Swarm.Cluster.ID}}", "config inspect tax-1"]);
    const secret = runWithDocker(stack.createSwarmObjectScript("secret", "tokens-1", {}, "swarm-1"), `case "$*" in "secret inspect"*) exit 1 ;; esac`, "hashes");
    assert.equal(secret.calls.at(-1), "secret create tokens-1 -");
});

test("leaving retries gracefully, then forces out only a node that is no longer a manager", () => {
    const answers = (manager: boolean) => `case "$*" in *LocalNodeState*) echo active ;; "swarm leave") exit 1 ;; *ControlAvailable*) echo ${manager} ;; esac`;
    const worker = runWithDocker(swarm.leaveScript(), answers(false));
    assert.equal(worker.status, 0, worker.stderr);
    assert.equal(worker.calls.filter((c) => c === "swarm leave").length, 3);
    assert.equal(worker.calls.filter((c) => c.startsWith("swarm leave")).at(-1), "swarm leave --force");
    const manager = runWithDocker(swarm.leaveScript(), answers(true));
    assert.notEqual(manager.status, 0);
    assert.match(manager.stderr, /is still a manager: not forcing it out/);
    assert.ok(manager.calls.every((c) => c !== "swarm leave --force"));
});

test("a machine that left removes the stacks' volumes, and keeps with a warning those another container uses", () => {
    const volumes = `case "$*" in *LocalNodeState*) echo inactive ;; "volume ls --quiet --filter label=${labels.stackData}") printf 'cat_redis-data\\ncat_nats-data\\n' ;; esac`;
    const removed = runWithDocker(swarm.leaveScript(), volumes);
    assert.equal(removed.status, 0, removed.stderr);
    assert.equal(removed.calls.at(-1), "volume rm cat_redis-data cat_nats-data");
    assert.ok(removed.calls.every((c) => !c.startsWith("swarm leave")), "it had left already");
    const inUse = runWithDocker(swarm.leaveScript(), volumes.replace("esac", `"volume rm"*) exit 1 ;; esac`));
    assert.equal(inUse.status, 0, inUse.stderr);
    assert.match(inUse.stderr, /warning: .*kept the stack volumes that another container still uses: cat_redis-data cat_nats-data/);
    const none = runWithDocker(swarm.leaveScript(), `case "$*" in *LocalNodeState*) echo inactive ;; esac`);
    assert.ok(none.calls.every((c) => !c.startsWith("volume rm")));
});

test("boot waits for cloud-init: done or done with recoverable errors (exit 2) pass, a failure or no end fails", () => {
    const withCloudInit = (exit: number) => runWithDocker(swarm.bootScript(60), "exit 0", "", { "cloud-init": `[ "$*" = "status --wait" ] || exit 9\nexit ${exit}` });
    assert.equal(withCloudInit(0).status, 0);
    const recoverable = withCloudInit(2);
    assert.equal(recoverable.status, 0, recoverable.stderr);
    assert.match(recoverable.stderr, /recoverable errors/);
    const failed = withCloudInit(1);
    assert.notEqual(failed.status, 0);
    assert.match(failed.stderr, /cloud-init failed \(status 1\)/);
    const hung = runWithDocker(swarm.bootScript(1), "exit 0", "", { "cloud-init": "exec /bin/sleep 30" });
    assert.notEqual(hung.status, 0);
    assert.match(hung.stderr, /cloud-init did not finish within 1s/);
    // Machines without cloud-init (local containers, most listed hosts) have nothing to wait for.
    const none = spawnSync("/bin/sh", ["-c", swarm.bootScript(1)], { encoding: "utf8", env: { PATH: "/nonexistent" } });
    assert.equal(none.status, 0, none.stderr);
});

test("a node update the swarm refuses for a concurrent one (update out of sequence) is retried", () => {
    const counter = path.join(os.tmpdir(), `drain-retry-${process.pid}`);
    fs.writeFileSync(counter, "");
    try {
        const answers = `case "$*" in *ControlAvailable*) echo true ;; *Spec.Role*) echo worker ;;
            "node update --availability drain abc123") echo x >>'${counter}'; [ "$(wc -l <'${counter}')" -gt 1 ] || { echo "update out of sequence" >&2; exit 1; } ;; esac`;
        const drained = runWithDocker(swarm.drainScript("abc123", 60), answers);
        assert.equal(drained.status, 0, drained.stderr);
        assert.equal(drained.calls.filter((c) => c === "node update --availability drain abc123").length, 2);
        assert.match(drained.stderr, /retrying \(1\): docker node update --availability drain abc123/);
    } finally {
        fs.rmSync(counter, { force: true });
    }
});

test("the swarm scripts name no label of their own: admit, peer, remove and leave get the names from labels", () => {
    const dir = path.join(__dirname, "..", "..", "components", "swarm", "scripts");
    for (const file of fs.readdirSync(dir)) {
        const text = fs.readFileSync(path.join(dir, file), "utf8");
        for (const name of Object.values(labels)) assert.ok(!text.includes(name), `${file} names the label ${name}`);
    }
    const removal = runWithDocker(swarm.removeScript("i-1", "node-1"), `case "$*" in *ControlAvailable*) echo true ;; "node ls --quiet") echo id1 ;; esac`);
    assert.equal(removal.status, 0, removal.stderr);
    assert.ok(removal.calls.some((c) => c.includes(`{{index .Spec.Labels "${labels.machine}"}}`)), removal.calls.join("\n"));
    const admitted = runWithDocker(swarm.admitScript("abc123", "worker-0", {}, 60), `case "$*" in "node inspect --format {{.Status.State}} abc123") echo ready ;; "node ls --quiet") echo abc123; echo old1 ;; esac`);
    assert.equal(admitted.status, 0, admitted.stderr);
    assert.ok(admitted.calls.some((c) => c.includes(`{{index .Spec.Labels "${labels.nodeName}"}}|{{index .Spec.Labels "${labels.machine}"}}`)), admitted.calls.join("\n"));
});

test("the registry login renewal goes on past a service that cannot be updated, and names it", () => {
    const renewal = fs.readFileSync(path.join(__dirname, "..", "..", "components", "aws", "scripts", "renew-registry-auth.sh"), "utf8");
    const leader = `case "$*" in *ControlAvailable*) echo true ;; *ManagerStatus.Leader*) echo true ;; "service ls --quiet") echo s1; echo s2; echo s3 ;; *"--with-registry-auth s2") exit 1 ;; "service inspect --format {{.Spec.Name}} s2") echo cat_gone ;; esac`;
    const run = runWithDocker(renewal, leader);
    assert.notEqual(run.status, 0);
    assert.deepEqual(run.calls.filter((c) => c.startsWith("service update")), ["s1", "s2", "s3"].map((s) => `service update --detach --quiet --with-registry-auth ${s}`));
    assert.match(run.stderr, /the registry login was not renewed for: cat_gone$/m);
    const follower = runWithDocker(renewal, `case "$*" in *ControlAvailable*) echo true ;; *ManagerStatus.Leader*) echo false ;; esac`);
    assert.equal(follower.status, 0);
    assert.ok(follower.calls.every((c) => !c.startsWith("service update")), "only the leader renews");
});
