// The local provider end to end, on one swarm shared by the steps: `npm start` from a fresh copy
// of the project forms a swarm of containers over SSH and deploys the categorisation stack; then
// the config changes what it should and nothing else, and destroy leaves nothing behind.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as tls from "node:tls";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { runScript } from "../../components/command/provider";
import { generateKeyPair } from "../../components/ssh";
import { GatewayEndpoint, gatewayRequest } from "../../components/gateway/client";
import { deployScript, removeScript as removeStackScript } from "../../components/stack/scripts";
import { artifactsDir, withBrowser } from "../helpers/browser";
import { outage } from "../../bench/load";
import { assertNothingLost, startLoad } from "../helpers/load";
import { freshCopy, labelledObjects, TestStack, uniqueStackName } from "../helpers/stack";
import { assertSwarmMatchesOutputs, busiestWorker, convergedReplicas, declaredReplicas, eventually, expectConverged, idsByHost, NodeOutput, nodeList, serviceReplicas, serviceVersions } from "../helpers/swarm";

let copy: string;
let stack: TestStack;
let startOutput = "";

async function serviceIds(): Promise<string> {
    return (await stack.onManager("docker service ls --quiet --filter label=com.docker.stack.namespace=categorisation | sort")).trim();
}

let gatewayCache: GatewayEndpoint | undefined;
/** The stack's gateway (front URL, CA, tokens), read once from its outputs. */
const gateway = (): GatewayEndpoint => (gatewayCache ??= stack.gateway());

async function postEvents(events: object[]): Promise<{ accepted: number; duplicates: number }> {
    const response = await gatewayRequest(gateway(), "/events", { body: JSON.stringify(events) });
    assert.equal(response.status, 202, `collector answered ${response.status}: ${response.body}`);
    return JSON.parse(response.body) as { accepted: number; duplicates: number };
}

interface Profile {
    userId: string;
    interests: { nodeId: string; name: string; score: number }[];
}

async function profile(userId: string): Promise<Profile | undefined> {
    const response = await gatewayRequest(gateway(), `/profiles/${userId}`);
    return response.status === 200 ? (JSON.parse(response.body) as Profile) : undefined;
}

interface PrometheusTarget {
    labels: Record<string, string>;
    health: string;
}
interface PrometheusAlert {
    labels: Record<string, string>;
    state: string;
}

/** The `data` of an answer of the stack's Prometheus API, through the gateway with the admin token. */
async function prometheus<T>(apiPath: string, endpoint = gateway()): Promise<T> {
    const response = await gatewayRequest(endpoint, `/prometheus/api/v1/${apiPath}`);
    assert.equal(response.status, 200, response.body);
    return (JSON.parse(response.body) as { data: T }).data;
}

const alerts = async (endpoint = gateway()) => (await prometheus<{ alerts: PrometheusAlert[] }>("alerts", endpoint)).alerts;

function upChanges(): string {
    return stack.up().stdout;
}

before(() => {
    copy = freshCopy();
    const name = uniqueStackName("local");
    // The stack's settings, as a user would write them (a subnet and ports of its own).
    fs.writeFileSync(
        path.join(copy, `Pulumi.${name}.yaml`),
        ["config:", "  swarm:provider: local", "  swarm:managers: 1", "  swarm:workers: 2", "  swarm:local:", "    subnet: 10.214.0.0/24", "    sshPortBase: 2300", "    registryPort: 5300", "  swarm:monitoring: true", ""].join("\n"),
    );
    const env: NodeJS.ProcessEnv = { ...process.env, SWARM_STACK: name };
    delete env.PULUMI_BACKEND_URL;
    delete env.PULUMI_CONFIG_PASSPHRASE;
    delete env.PULUMI_CONFIG_PASSPHRASE_FILE;
    const start = spawnSync("npm", ["start"], { cwd: copy, env, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
    startOutput = `${start.stdout}\n${start.stderr}`;
    const passphraseFile = path.join(copy, ".pulumi-state", "passphrase");
    stack = new TestStack(name, copy, {
        backendDir: path.join(copy, ".pulumi-state"),
        passphrase: fs.existsSync(passphraseFile) ? fs.readFileSync(passphraseFile, "utf8") : "",
    });
    assert.equal(start.status, 0, `npm start failed:\n${startOutput.slice(-6000)}`);
});

after(() => {
    for (const name of killed) spawnSync("docker", ["start", name], { stdio: "ignore" });
    stack?.cleanup();
    if (copy) fs.rmSync(copy, { recursive: true, force: true });
});

test("npm start from a fresh copy: a swarm of 1 leader and 2 workers, named as the outputs say", async () => {
    assert.match(startOutput, /==> ready in/);
    await assertSwarmMatchesOutputs(stack, 1, 2);
    assert.match(stack.output<string>("dockerHost"), /^ssh:\/\/root@127\.0\.0\.1:2300$/);
});

test("every service runs its declared replicas, every machine runs some, and events posted to collectorUrl reach profilesUrl", async () => {
    expectConverged(await serviceReplicas(stack), declaredReplicas(1, true));
    for (const machine of [...stack.output<NodeOutput[]>("managers"), ...stack.output<NodeOutput[]>("workers")]) {
        const tasks = (await stack.onManager(`docker node ps ${machine.name} --filter desired-state=running --format '{{.Name}}'`)).split("\n").filter((t) => t.startsWith("categorisation_"));
        assert.ok(tasks.length > 0, `${machine.name} runs no task of the stack`);
    }
    const services = stack.output<Record<string, { image: string; replicas: number }>>("services");
    assert.deepEqual(Object.fromEntries(Object.entries(services).map(([n, s]) => [n, s.replicas])), declaredReplicas(1, true));
    assert.match(services.collector.image, /^10\.214\.0\.2:5000\/categorisation\/pipeline:[0-9a-f]{12}$/);

    const run = Date.now().toString(36);
    await postEvents([
        { eventId: `${run}-1`, userId: `fan-${run}`, url: "https://www.espn.com/nba/story/_/id/1/lakers-beat-celtics", title: "Lakers beat Celtics in overtime" },
        { eventId: `${run}-2`, userId: `fan-${run}`, url: "https://www.nba.com/news/playoff-bracket", title: "NBA playoff bracket: who plays who" },
        { eventId: `${run}-3`, userId: `cook-${run}`, url: "https://www.bbcgoodfood.com/recipes/easy-chocolate-cake", title: "Easy chocolate cake recipe" },
    ]);
    const fan = await eventually(() => profile(`fan-${run}`), (p) => (p?.interests.length ?? 0) > 0, "basketball fan's profile");
    assert.equal(fan!.interests[0].name, "Basketball");
    const cook = await eventually(() => profile(`cook-${run}`), (p) => (p?.interests.length ?? 0) > 0, "cook's profile");
    assert.match(cook!.interests.map((i) => i.name).join(","), /Food & Drink|Baking|Desserts|Cooking/);
    assert.equal((await gatewayRequest(gateway(), `/profiles/nobody-${run}`)).status, 404);
    assert.match(stack.output<string>("profilesUrl"), /^https:\/\/10\.214\.0\.10:8080\/profiles$/);
});

test("HTTPS with the stack's CA, and tokens: each refusal, the same answer for a known and an unknown user, nothing over plain HTTP", async () => {
    const endpoint = gateway();
    const run = Date.now().toString(36);
    await postEvents([{ eventId: `${run}-1`, userId: `known-${run}`, url: "https://www.nba.com/news/playoff-bracket", title: "NBA playoff bracket" }]);
    await eventually(() => profile(`known-${run}`), (p) => p !== undefined, "the known user's profile");
    const event = JSON.stringify([{ eventId: `${run}-2`, userId: `known-${run}`, url: "https://www.nba.com/", title: "NBA" }]);

    // Writing needs the ingest token.
    const noToken = await gatewayRequest(endpoint, "/events", { body: event, token: "none" });
    assert.equal(noToken.status, 401);
    assert.match(String(noToken.headers["www-authenticate"]), /^Bearer /);
    assert.equal((await gatewayRequest({ ...endpoint, ingestToken: "not-a-token-of-this-stack" }, "/events", { body: event })).status, 401);
    assert.equal((await gatewayRequest(endpoint, "/events", { body: event, token: "admin" })).status, 403);
    // Reading needs the admin token, and without it a known and an unknown user look the same.
    for (const path of ["/profiles/known-" + run, "/stats", "/activity", "/dashboard", "/metrics"]) {
        const denied = await gatewayRequest(endpoint, path, { token: "none" });
        assert.equal(denied.status, 401, path);
        assert.match(String(denied.headers["www-authenticate"]), /^Basic realm=/, path);
        assert.equal((await gatewayRequest(endpoint, path, { token: "ingest" })).status, 403, path);
    }
    const known = await gatewayRequest(endpoint, `/profiles/known-${run}`, { token: "none" });
    const unknown = await gatewayRequest(endpoint, `/profiles/nobody-${run}`, { token: "none" });
    assert.deepEqual([known.status, known.body], [unknown.status, unknown.body]);
    // The browser's way: basic auth with the admin token as password.
    const basic = Buffer.from(`anyone:${endpoint.adminToken}`).toString("base64");
    assert.equal((await gatewayRequest(endpoint, `/profiles/known-${run}`, { token: "none", headers: { authorization: `Basic ${basic}` } })).status, 200);
    // GET /metrics with the admin token: a collector's Prometheus text, which names no user (two
    // scrapes: the gateway takes turns between the two collectors).
    const scrapes = [await gatewayRequest(endpoint, "/metrics"), await gatewayRequest(endpoint, "/metrics")];
    for (const scrape of scrapes) {
        assert.equal(scrape.status, 200);
        assert.match(String(scrape.headers["content-type"]), /^text\/plain; version=0\.0\.4/);
        assert.match(scrape.body, /^categorisation_events_accepted_total\{role="collector"\} \d+$/m);
        assert.doesNotMatch(scrape.body, new RegExp(run));
    }
    const metrics = scrapes.map((scrape) => scrape.body).join("\n");
    assert.match(metrics, /^categorisation_events_accepted_total\{role="collector"\} [1-9]\d*$/m);
    assert.match(metrics, /^categorisation_http_request_duration_seconds_count\{(?=[^}]*route="events")(?=[^}]*code="202")[^}]*\} [1-9]\d*$/m);
    assert.match(metrics, /^categorisation_refusals_total\{(?=[^}]*reason="unauthorized")[^}]*\} [1-9]\d*$/m);

    // TLS: the certificate is the stack CA's and names the address; a client that trusts only the
    // machine's CAs refuses it, and plain HTTP on the port yields no data.
    const { hostname, port } = new URL(endpoint.url);
    const peer = await servedCertificate(endpoint);
    assert.match(peer.subjectaltname ?? "", new RegExp(`IP Address:${hostname.replace(/\./g, "\\.")}`));
    await assert.rejects(gatewayRequest({ ...endpoint, ca: undefined }, "/gateway/healthz"), /self[- ]signed|unable to verify|certificate/i);
    const plain = await fetch(`http://${hostname}:${port}/profiles/known-${run}`).then((r) => r.status, (error: Error) => error.message);
    assert.equal(typeof plain, "string", `plain HTTP answered ${plain}`);
});

test("the pipeline's page in a real browser: first data, the events posted, the roles alive and a profile lookup", async () => {
    const { url, adminToken } = gateway();
    await withBrowser(async (browser) => {
        // The page asks for a login: without one, or with a wrong token, the browser gets no page
        // (in a context of its own: the failed logins stay out of the page used below); with the
        // admin token as password (any user name) it opens.
        const refused = await (await browser.createBrowserContext()).newPage();
        await assert.rejects(refused.goto(`${url}/dashboard`), /ERR_INVALID_AUTH_CREDENTIALS/);
        await refused.authenticate({ username: "admin", password: "not-the-admin-token-0123" });
        await assert.rejects(refused.goto(`${url}/dashboard`), /ERR_INVALID_AUTH_CREDENTIALS/);
        await refused.browserContext().close();
        const page = await browser.newPage();
        await page.setViewport({ width: 1280, height: 900 });
        await page.authenticate({ username: "admin", password: adminToken! });
        const response = await page.goto(`${url}/dashboard`);
        assert.equal(response?.status(), 200);
        await page.waitForSelector("body[data-loaded=true]", { timeout: 30_000 });

        // Events posted now show in the page: throughput, the interest's count, one more profile.
        const shown = async () => page.evaluate(`({
            basketball: Number([...document.querySelectorAll("#interests tr")].find((tr) => tr.cells[0].textContent === "Basketball")?.cells[1].textContent ?? 0),
            profiles: Number(document.getElementById("profiles").textContent),
        })`) as Promise<{ basketball: number; profiles: number }>;
        const before = await shown();
        const run = `page-${Date.now().toString(36)}`;
        await postEvents(Array.from({ length: 20 }, (_, i) => ({ eventId: `${run}-${i}`, userId: run, url: `https://www.nba.com/news/game-${i}`, title: "NBA playoff bracket: who plays who" })));
        // Run in the page (strings: the test's TypeScript knows no DOM).
        await page.waitForFunction("Number(document.getElementById('events-per-second').textContent) > 0", { timeout: 30_000 });
        await page.waitForFunction(`Number([...document.querySelectorAll("#interests tr")].find((tr) => tr.cells[0].textContent === "Basketball")?.cells[1].textContent ?? 0) >= ${before.basketball + 20}`, { timeout: 30_000 });
        await page.waitForFunction(`Number(document.getElementById("profiles").textContent) >= ${before.profiles + 1}`, { timeout: 30_000 });
        await page.waitForFunction("document.querySelectorAll('#lag tr').length === 2", { timeout: 30_000 });
        assert.match(await page.$eval("#lag", (e) => e.textContent ?? ""), /EVENTS\/categoriser\d+ waiting/);
        // The charts have scales: values 0, half and top (the events just posted are under it), and the time.
        const axes = await page.$$eval("#throughput-chart text", (labels) => labels.map((label) => label.textContent ?? ""));
        assert.deepEqual(axes.slice(3), ["10 min ago", "5 min ago", "now"]);
        assert.equal(axes[0], "0");
        assert.ok(Number(axes[2].replace(/,/g, "")) >= 1, `the scale's top: ${axes[2]}`);

        // The roles count themselves: as many as the swarm runs.
        const declared = declaredReplicas(1, true);
        const roles = ["collector", "categoriser", "profile-writer", "profile-api"];
        await page.waitForFunction(roles.map((role) => `document.querySelector('tr[data-role="${role}"] td.n')?.textContent === '${declared[role]}'`).join(" && "), { timeout: 30_000 });

        // The lookup, as a person makes it (again if the page shows no answer: the page keeps refreshing).
        for (let attempt = 1; ; attempt++) {
            await page.$eval("#user-id", (input) => ((input as unknown as { value: string }).value = ""));
            await page.type("#user-id", run);
            await page.click("#lookup button");
            const found = await page.waitForSelector(`#profile[data-user="${run}"]`, { timeout: 10_000 }).catch(() => undefined);
            if (found) break;
            const shown = await page.$eval("#profile", (e) => e.textContent ?? "");
            if (attempt === 3) assert.fail(`the page's lookup of ${run} shows: ${shown}`);
            console.log(`# lookup attempt ${attempt} showed: ${shown}`);
        }
        assert.match(await page.$eval("#profile", (e) => e.textContent ?? ""), /^Basketball/);

        fs.mkdirSync(artifactsDir, { recursive: true });
        await page.screenshot({ path: path.join(artifactsDir, "dashboard.png"), fullPage: true });
    });
    assert.ok(fs.statSync(path.join(artifactsDir, "dashboard.png")).size > 10_000);
});

/** `npm run <script> -- <args>` in the project copy, as a user runs it, on the stack `npm start` selected there. */
function npmRun(script: string, args: string[] = [], extraEnv: NodeJS.ProcessEnv = {}): { status: number | null; stdout: string; stderr: string } {
    // The project's own backend and passphrase file, as for `npm start`.
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.PULUMI_BACKEND_URL;
    delete env.PULUMI_CONFIG_PASSPHRASE;
    delete env.PULUMI_CONFIG_PASSPHRASE_FILE;
    delete env.SWARM_STACK;
    return spawnSync("npm", ["run", "--silent", script, "--", ...args], { cwd: copy, encoding: "utf8", env: { ...env, ...extraEnv } });
}

/** `npm run status` on the selected stack. */
function status(): string {
    const result = npmRun("status");
    assert.equal(result.status, 0, `npm run status failed:\n${result.stdout}\n${result.stderr}`);
    return result.stdout;
}

test("npm run logs prints a service's lines from every task, each with its task, machine and time; a wrong name lists the services; every task's log rotates", async () => {
    const result = npmRun("logs", ["collector", "--since", "2h", "--stack", stack.name]);
    assert.equal(result.status, 0, `npm run logs failed:\n${result.stderr}`);
    const running = (await stack.onManager("docker service ps categorisation_collector --filter desired-state=running --format '{{.Name}}.{{.ID}}@{{.Node}}'")).trim().split("\n");
    assert.ok(running.length >= 2, running.join(" "));
    for (const task of running) {
        assert.match(result.stdout, new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\S+ ${task.replace(/\./g, "\\.")} +\\| \\{.*"msg":"collector listening"`, "m"), `a line of ${task}`);
    }
    // Every task container on every machine keeps its log in rotated files.
    for (const machine of [...stack.output<NodeOutput[]>("managers"), ...stack.output<NodeOutput[]>("workers")].map((n) => n.name)) {
        const listed = spawnSync("docker", ["exec", machine, "sh", "-c", "docker ps -q --filter label=com.docker.stack.namespace=categorisation | xargs -r docker inspect --format '{{.Name}} {{json .HostConfig.LogConfig}}'"], { encoding: "utf8" });
        assert.equal(listed.status, 0, listed.stderr);
        const lines = listed.stdout.trim().split("\n").filter(Boolean);
        for (const line of lines) assert.match(line, /\{"Type":"json-file","Config":\{"max-file":"3","max-size":"10m"\}\}$/, `${machine}: ${line}`);
    }
    const wrong = npmRun("logs", ["colector"]);
    assert.equal(wrong.status, 1);
    assert.match(wrong.stderr, /stack categorisation has no service colector; its services: .*\bcollector\b/);
    const badSince = npmRun("logs", ["collector", "--since", "yesterday"]);
    assert.equal(badSince.status, 1);
    assert.match(badSince.stderr, /--since "yesterday" is not a duration/);
});

test("npm run context: a Docker context for the swarm and the managers' pinned host keys; with the stack's key in an agent, docker --context lists the stack's services", async () => {
    // A home of its own: the user's ~/.ssh and Docker contexts stay as they are.
    const home = fs.mkdtempSync(path.join(stack.work, "home-"));
    const made = npmRun("context", [], { HOME: home });
    assert.equal(made.status, 0, `npm run context failed:\n${made.stdout}\n${made.stderr}`);
    const [manager] = stack.output<(NodeOutput & { hostKey: string })[]>("managers");
    assert.match(manager.hostKey, /^ssh-ed25519 SHA256:[A-Za-z0-9+/]{43}$/);
    assert.match(made.stdout, new RegExp(`docker context swarm-${stack.name}: ssh://root@127\\.0\\.0\\.1:2300`));
    const knownHosts = fs.readFileSync(path.join(home, ".ssh", "known_hosts"), "utf8");
    assert.match(knownHosts, /^\[127\.0\.0\.1\]:2300 ssh-ed25519 /m);
    // Docker's own SSH, strict about host keys, with the key in an agent as the output says. ssh
    // reads the known_hosts of the account's home, not $HOME's: told to read this one.
    const socket = path.join(home, "agent.sock");
    const bin = fs.mkdtempSync(path.join(stack.work, "bin-"));
    fs.writeFileSync(path.join(bin, "ssh"), `#!/bin/sh\nexec /usr/bin/ssh -o UserKnownHostsFile=${home}/.ssh/known_hosts -o StrictHostKeyChecking=yes "$@"\n`, { mode: 0o755 });
    const env = { ...process.env, HOME: home, SSH_AUTH_SOCK: socket, PATH: `${bin}:${process.env.PATH}` };
    const agent = spawn("ssh-agent", ["-D", "-a", socket], { env, stdio: "ignore" });
    try {
        await eventually(async () => fs.existsSync(socket), (there) => there, "the SSH agent's socket", 10);
        const added = spawnSync("ssh-add", ["-"], { env, input: stack.output<string>("sshPrivateKey"), encoding: "utf8" });
        assert.equal(added.status, 0, added.stderr);
        const listed = spawnSync("docker", ["--context", `swarm-${stack.name}`, "service", "ls", "--format", "{{.Name}}"], { env, encoding: "utf8" });
        assert.equal(listed.status, 0, listed.stderr);
        assert.match(listed.stdout, /^categorisation_collector$/m);
        // A known_hosts entry that is not the pinned key is refused by ssh, and npm run context puts the pinned one back.
        fs.writeFileSync(path.join(home, ".ssh", "known_hosts"), knownHosts.replace(/ssh-ed25519 \S+/, `ssh-ed25519 ${generateKeyPair("impostor").public.split(" ")[1]}`));
        const impostor = spawnSync("docker", ["--context", `swarm-${stack.name}`, "service", "ls"], { env, encoding: "utf8" });
        assert.notEqual(impostor.status, 0);
        assert.match(impostor.stderr, /Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED/);
        assert.equal(npmRun("context", [], { HOME: home }).status, 0);
        assert.equal(spawnSync("docker", ["--context", `swarm-${stack.name}`, "service", "ls"], { env }).status, 0);
    } finally {
        agent.kill();
    }
});

test("npm run status shows every machine, service and task, the pipeline's rate, lag and profiles", async () => {
    const screen = status();
    const machines = [...stack.output<NodeOutput[]>("managers"), ...stack.output<NodeOutput[]>("workers")].map((n) => n.name);
    assert.match(screen, new RegExp(`^${machines[0]} +manager Leader +ready +active$`, "m"));
    for (const worker of machines.slice(1)) assert.match(screen, new RegExp(`^${worker} +worker +ready +active$`, "m"));
    for (const [service, replicas] of Object.entries(declaredReplicas(1, true))) assert.match(screen, new RegExp(`^categorisation_${service} +${replicas}/${replicas} +\\S+/categorisation/`, "m"));
    // Every service and machine as `docker service ls` and `docker node ls` show them.
    for (const line of (await stack.onManager("docker service ls --format '{{.Name}} {{.Replicas}} {{.Image}}'")).trim().split("\n")) {
        const [service, replicas, image] = line.split(" ");
        assert.match(screen, new RegExp(`^${service} +${replicas} +${image}$`, "m"));
    }
    for (const line of (await stack.onManager("docker node ls --format '{{.Hostname}} {{.Status}} {{.Availability}}'")).trim().split("\n")) {
        const [machine, state, availability] = line.split(" ");
        assert.match(screen, new RegExp(`^${machine} +(manager Leader|worker) +${state.toLowerCase()} +${availability.toLowerCase()}$`, "m"));
    }
    // Each machine's tasks as Docker lists them (the scheduler may leave a machine without any).
    for (const machine of machines) {
        // A global service's task is named after its node too; the status names it by its service.
        const tasks = (await stack.onManager(`docker node ps ${machine} --filter desired-state=running --format '{{.Name}}'`)).trim().split("\n").filter(Boolean).map((t) => t.replace(/\.[a-z0-9]{25}$/, "")).sort();
        const shown = new RegExp(`^${machine}: (.*)$`, "m").exec(screen)?.[1];
        assert.deepEqual(shown === "no tasks" ? [] : shown?.split(", ").sort(), tasks, `tasks of ${machine}`);
    }
    assert.ok(machines.some((machine) => new RegExp(`^${machine}: .*categorisation_collector`, "m").test(screen)));
    // The events posted by the test before were applied within the last minute.
    assert.match(screen, /^events\/s over the last minute: (?!0\.0$)\d+\.\d$/m);
    assert.match(screen, /^profiles: [1-9]\d*$/m);
    assert.match(screen, /^consumer lag EVENTS\/categoriser: \d+ waiting, \d+ unacknowledged$/m);
    assert.match(screen, /^consumer lag CATEGORISED\/profile-writer: \d+ waiting, \d+ unacknowledged$/m);
});

test("monitoring: Prometheus, through the gateway with the admin token, scrapes every task of every role, labelled with its role and machine, and sees every machine ready", async () => {
    assert.match(stack.output<string>("prometheusUrl"), /^https:\/\/10\.214\.0\.10:8080\/prometheus$/);
    assert.equal((await gatewayRequest(gateway(), "/prometheus/api/v1/targets", { token: "none" })).status, 401);
    assert.equal((await gatewayRequest(gateway(), "/prometheus/api/v1/targets", { token: "ingest" })).status, 403);
    const roles = ["collector", "categoriser", "profile-writer", "profile-api"];
    const upTargets = (targets: PrometheusTarget[], role: string) => targets.filter((t) => t.labels.job === "pipeline" && t.labels.role === role && t.labels.service === `categorisation_${role}` && t.health === "up");
    const { activeTargets } = await eventually(
        () => prometheus<{ activeTargets: PrometheusTarget[] }>("targets"),
        (data) => roles.every((role) => upTargets(data.activeTargets, role).length === declaredReplicas(1, true)[role]),
        "every task of every role scraped",
    );
    for (const role of roles) {
        const machinesOfTasks = (await stack.onManager(`docker service ps categorisation_${role} --filter desired-state=running --format '{{.Node}}'`)).trim().split("\n").sort();
        assert.deepEqual(upTargets(activeTargets, role).map((t) => t.labels.machine).sort(), machinesOfTasks, role);
    }
    const machines = [...stack.output<NodeOutput[]>("managers"), ...stack.output<NodeOutput[]>("workers")].map((n) => `${n.name} ready`).sort();
    assert.deepEqual(activeTargets.filter((t) => t.labels.job === "machines").map((t) => `${t.labels.machine} ${t.labels.status}`).sort(), machines);
    // The figures the roles count, queried: the events posted by the tests before.
    const accepted = await prometheus<{ result: { value: [number, string] }[] }>(`query?query=${encodeURIComponent("sum(categorisation_events_accepted_total)")}`);
    assert.ok(Number(accepted.result[0]?.value[1]) >= 3, JSON.stringify(accepted));
    assert.deepEqual((await alerts()).filter((a) => a.state === "firing"), []);
});

test("a second pulumi up with nothing changed changes nothing", () => {
    const preview = stack.run(["preview", "--expect-no-changes"], true);
    assert.equal(preview.status, 0, preview.stdout + preview.stderr);
    assert.doesNotMatch(upChanges(), /created|updated|deleted|replaced/);
});

test("replicas.categoriser 3: one resource to update and no machine change, then 3/3; back to 1 gives 1/1", async () => {
    stack.setConfig({ "replicas.categoriser": "3" });
    const preview = stack.run(["preview", "--json"]);
    const steps = (JSON.parse(preview.stdout).steps as { op: string; urn: string }[]).filter((s) => s.op !== "same");
    assert.deepEqual(steps.map((s) => [s.op, s.urn.split("::").pop()]), [["update", "stack-deploy"]]);
    // While the deploy waits, up says for what, beside it.
    assert.match(upChanges(), /stack-deploy +waiting for (.*, )?categoriser [0-2]\/3 running/);
    expectConverged(await serviceReplicas(stack), { ...declaredReplicas(1, true), categoriser: 3 });
    stack.setConfig({ "replicas.categoriser": "1" });
    stack.up();
    expectConverged(await serviceReplicas(stack), { ...declaredReplicas(1, true), categoriser: 1 });
});

/** A client that sends half a request (after the TLS handshake) and then nothing; `closed` resolves once the gateway closes it. */
/** The certificate the gateway serves, checked against the stack's CA. */
function servedCertificate(endpoint: GatewayEndpoint): Promise<tls.PeerCertificate> {
    const { hostname, port } = new URL(endpoint.url);
    return new Promise((resolve, reject) => {
        const socket = tls.connect({ host: hostname, port: Number(port), ca: endpoint.ca, servername: undefined }, () => {
            resolve(socket.getPeerCertificate());
            socket.end();
        });
        socket.on("error", reject);
    });
}

function halfRequest(endpoint: GatewayEndpoint): Promise<{ closed: Promise<string> }> {
    const { hostname, port } = new URL(endpoint.url);
    return new Promise((resolve, reject) => {
        const socket = tls.connect({ host: hostname, port: Number(port), ca: endpoint.ca }, () => {
            socket.write("POST /events HTTP/1.1\r\nHost: gateway\r\ncontent-type: application/json\r\n");
            resolve({ closed: new Promise((done) => {
                let answer = "";
                socket.on("data", (chunk) => (answer += chunk.toString()));
                socket.on("close", () => done(answer.split("\r\n")[0]));
            }) });
        });
        socket.on("error", reject);
    });
}

/**
 * POST one event from a worker machine's address (another client than this machine): a Node.js
 * client run in the worker container's network namespace. Returns the status.
 */
function postFromWorker(endpoint: GatewayEndpoint, event: object): number {
    const worker = stack.output<NodeOutput[]>("workers")[0].name;
    const pid = spawnSync("docker", ["inspect", "--format", "{{.State.Pid}}", worker], { encoding: "utf8" }).stdout.trim();
    const client = `require("https").request(process.env.URL, { method: "POST", ca: process.env.CA, headers: { authorization: "Bearer " + process.env.TOKEN, "content-type": "application/json" } },
        (res) => { console.log(res.statusCode); res.resume(); }).on("error", (e) => { console.error(e.message); process.exit(1); }).end(process.env.BODY);`;
    const result = spawnSync("nsenter", [`--net=/proc/${pid}/ns/net`, process.execPath, "-e", client], {
        encoding: "utf8",
        env: { ...process.env, URL: `${endpoint.url}/events`, CA: endpoint.ca, TOKEN: endpoint.ingestToken, BODY: JSON.stringify(event) },
    });
    assert.equal(result.status, 0, result.stderr);
    return Number(result.stdout.trim());
}

const healthz = (endpoint: GatewayEndpoint) => gatewayRequest(endpoint, "/gateway/healthz", { token: "none" }).then((r) => r.status);

test("the gateway's limits: slow clients are cut off while others are served, a client over gateway.rateLimit gets 429 while another address passes, and /gateway/healthz fails with no collector", async () => {
    const endpoint = { ...gateway(), url: stack.output<string[]>("gatewayUrls")[0] };
    const run = Date.now().toString(36);
    const event = (i: number) => ({ eventId: `limits-${run}-${i}`, userId: `limits-${run}`, url: "https://www.nba.com/news/playoff-bracket", title: "NBA playoff bracket" });

    // 300 clients that never finish their request: served requests keep their pace, and the slow ones are closed.
    const slow = await Promise.all(Array.from({ length: 300 }, () => halfRequest(endpoint)));
    const started = Date.now();
    await postEvents([event(0)]);
    const servedIn = Date.now() - started;
    console.log(`# a request beside 300 slow clients: ${servedIn} ms`);
    assert.ok(servedIn < 3000, `a normal request took ${servedIn} ms beside the slow clients`);
    const answers = await Promise.all(slow.map((client) => client.closed));
    const closedIn = Date.now() - started;
    console.log(`# 300 slow clients closed within ${(closedIn / 1000).toFixed(1)} s`);
    assert.ok(closedIn < 15_000, `the slow clients were closed after ${closedIn} ms`);
    assert.ok(answers.every((line) => line === "" || / 408 /.test(line)), answers.find((line) => !/ 408 /.test(line)));

    const replicas = await serviceReplicas(stack);
    try {
        // Over the rate from this address: 429 with Retry-After; another address is not affected.
        stack.setConfig({ "gateway.rateLimit": "5" });
        stack.up();
        const responses = await Promise.all(Array.from({ length: 40 }, (_, i) => gatewayRequest(endpoint, "/events", { body: JSON.stringify(event(i + 1)) })));
        const statuses = responses.map((r) => r.status);
        assert.ok(statuses.includes(202) && statuses.includes(429), statuses.join(" "));
        assert.ok(statuses.every((status) => status === 202 || status === 429), statuses.join(" "));
        assert.equal(responses.find((r) => r.status === 429)!.headers["retry-after"], "1");
        assert.equal(postFromWorker(endpoint, event(100)), 202);

        // No collector (and the default rate back, in the same up): the health check that load
        // balancers ask fails; the gateway itself stays up; Prometheus's alert for the role fires.
        stack.run(["config", "rm", "--path", "gateway.rateLimit"]);
        stack.setConfig({ "replicas.collector": "0" });
        stack.up();
        await eventually(() => healthz(endpoint), (status) => status === 503, "healthz 503 with no collector", 30);
        assert.deepEqual(await serviceReplicas(stack), { ...replicas, collector: "0/0" });
        const firing = await eventually(() => alerts(), (list) => list.some((a) => a.labels.alertname === "RoleWithoutTask" && a.state === "firing"), "RoleWithoutTask firing", 180);
        assert.deepEqual(firing.filter((a) => a.state === "firing").map((a) => `${a.labels.alertname} ${a.labels.role}`), ["RoleWithoutTask collector"]);
    } finally {
        for (const key of ["gateway.rateLimit", "replicas.collector"]) stack.run(["config", "rm", "--path", key], true);
        stack.up();
    }
    await eventually(() => healthz(endpoint), (status) => status === 200, "healthz 200 with collectors", 30);
});

test("an ingest token is rotated with no failed request: the new one added, then the old one removed", async () => {
    const endpoint = gateway();
    await eventually(() => healthz(endpoint), (status) => status === 200, "the gateway has collectors", 60);
    const old = endpoint.ingestToken!;
    const rotated = `ingest_rotated_${Date.now().toString(36)}_0123456789`;
    const streamDuringUp = async (token: string) => {
        const load = startLoad({ ...endpoint, ingestToken: token }, 20, 5, true);
        stack.up();
        load.stop();
        const summary = await load.done;
        assert.equal(summary.failed, 0, `requests failed during the rotation: ${JSON.stringify(summary.requests.filter((r) => r.status !== 202).slice(0, 3))}`);
        return summary;
    };
    const post = (token: string) => gatewayRequest({ ...endpoint, ingestToken: token }, "/events", { body: JSON.stringify([{ eventId: `rot-${token.slice(-6)}-${Date.now()}`, userId: "rotation", url: "https://www.nba.com/", title: "NBA" }]) }).then((r) => r.status);
    try {
        stack.setConfig({ "auth.ingestTokens[0]": old, "auth.ingestTokens[1]": rotated }, true);
        await streamDuringUp(old);
        assert.equal(await post(rotated), 202);
        stack.run(["config", "rm", "--path", "auth.ingestTokens"]);
        stack.setConfig({ "auth.ingestTokens[0]": rotated }, true);
        await streamDuringUp(rotated);
        assert.equal(await post(old), 401);
        assert.equal(stack.output<string>("ingestToken"), rotated);
    } catch (error) {
        // The stack's own token again, so that the tests after this one meet no pending change.
        stack.run(["config", "rm", "--path", "auth.ingestTokens"], true);
        stack.up();
        throw error;
    } finally {
        gatewayCache = undefined;
    }
});

test("the gateway replaced under load (a certificate issued anew, new limits) fails no request, while the edge keeps the port", async () => {
    const endpoint = gateway();
    const edgeTasks = () => stack.onManager("docker service ps -q --filter desired-state=running categorisation_edge | sort");
    const gatewayTasks = () => stack.onManager("docker service ps -q --filter desired-state=running categorisation_gateway | sort");
    const [edgeBefore, gatewayBefore, certificateBefore] = [await edgeTasks(), await gatewayTasks(), await servedCertificate(endpoint)];
    const upUnderLoad = async () => {
        const load = startLoad(endpoint, 20, 5, true);
        stack.up();
        load.stop();
        const summary = await load.done;
        const failed = summary.requests.filter((r) => r.status !== 202);
        assert.equal(failed.length, 0, `requests failed while the gateway was replaced: ${JSON.stringify(failed.slice(0, 3))}`);
    };
    // A new validity issues a certificate from the same CA, as a renewal does.
    stack.setConfig({ "gateway.rateLimit": "999", "tls.validityDays": "200" });
    const defaults = () => ["gateway.rateLimit", "tls.validityDays"].forEach((key) => stack.run(["config", "rm", "--path", key], true));
    try {
        await upUnderLoad();
        assert.notEqual(await gatewayTasks(), gatewayBefore, "the gateway was not replaced");
        const renewed = await servedCertificate(endpoint);
        assert.notEqual(renewed.fingerprint256, certificateBefore.fingerprint256, "the gateway serves the certificate it had");
        assert.equal(stack.output<string>("caCertificate"), endpoint.ca, "the CA is the same: clients keep trusting the gateway");
    } catch (error) {
        // The defaults again, so that the tests after this one meet no pending change.
        defaults();
        stack.up();
        throw error;
    }
    defaults();
    await upUnderLoad();
    assert.equal(await edgeTasks(), edgeBefore, "the edge was restarted");
});

/** The pipeline's counters (GET /stats). */
async function pipelineStats(): Promise<Record<string, number>> {
    return JSON.parse((await gatewayRequest(gateway(), "/stats")).body) as Record<string, number>;
}

/** Runs `script` in the stack's container of `service` on manager 0 (the data tier lives there). */
async function inContainer(service: string, script: string): Promise<string> {
    const quoted = `'${script.replace(/'/g, "'\\''")}'`;
    return stack.onManager(`c=$(docker ps -q --filter label=com.docker.swarm.service.name=categorisation_${service} | head -n 1); [ -n "$c" ] && docker exec "$c" bash -c ${quoted}`);
}

test("personal data: an eventId counts once per user, sensitive and political visits credit nothing, DELETE erases a user, whose ID is in none of the store's files", async () => {
    const run = Date.now().toString(36);
    const [first, second, careful] = [`first-${run}`, `second-${run}`, `careful-${run}`];
    const before = await pipelineStats();
    const nba = { url: "https://www.nba.com/news/playoff-bracket", title: "NBA playoff bracket: who plays who" };
    // The same eventId from two users counts for both; a repeat from the same user is a duplicate.
    // Sent one per request: a lone event goes to the stream under an ID made of its user and
    // eventId, so the stream already answers the repeat; events sent together share one message.
    for (const user of [first, second]) assert.deepEqual(await postEvents([{ eventId: `${run}-same`, userId: user, ...nba }]), { accepted: 1, duplicates: 0 });
    const repeat = { eventId: `${run}-same`, userId: first, url: "https://www.bbcgoodfood.com/recipes/easy-chocolate-cake", title: "Easy chocolate cake recipe" };
    assert.deepEqual(await postEvents([repeat]), { accepted: 0, duplicates: 1 });
    // A page on depression (Mental Health, SCD, under Health) and an election page (Politics).
    await postEvents([
        { eventId: `${run}-mind`, userId: careful, url: "https://www.mind.org.uk/information-support/types-of-mental-health-problems/depression/about-depression/", title: "About depression - Mind" },
        { eventId: `${run}-vote`, userId: careful, url: "https://www.politico.com/news/2024/11/05/election-results-senate-races", title: "Election results: Senate races to watch" },
    ]);
    await eventually(pipelineStats, (now) => (now.sensitive ?? 0) - (before.sensitive ?? 0) >= 2, "the two sensitive visits applied");
    for (const user of [first, second]) {
        const found = await eventually(() => profile(user), (p) => (p?.interests.length ?? 0) > 0, `${user}'s profile`);
        assert.equal(found!.interests[0].name, "Basketball", user);
        assert.ok(!found!.interests.some((i) => /Food|Baking|Desserts|Cooking/.test(i.name)), `the repeat reached ${user}'s profile`);
    }
    assert.equal(await profile(careful), undefined, "a sensitive or political visit made a profile");

    // User IDs are kept as keyed hashes only: not in Redis's files, before or after an erasure.
    const filesWith = (text: string) => inContainer("redis", `grep -rlF -- '${text}' /data || true`);
    assert.equal((await filesWith(first)).trim(), "", "a raw user ID in Redis's files");
    const erase = (user: string, token?: "ingest" | "none") => gatewayRequest(gateway(), `/profiles/${user}`, { method: "DELETE", ...(token ? { token } : {}) });
    assert.equal((await erase(first, "none")).status, 401);
    assert.equal((await erase(first, "ingest")).status, 403);
    assert.notEqual(await profile(first), undefined, "a refused erasure erased");
    for (const user of [first, `nobody-${run}`]) {
        const erased = await erase(user);
        assert.deepEqual([erased.status, erased.body], [204, ""], user);
    }
    assert.equal(await profile(first), undefined, "an erased user still has a profile");
    assert.equal((await profile(second))?.interests[0].name, "Basketball", "erasing one user touched another");
    // A new visit after the erasure makes a new profile. (The same event sent again would be a
    // duplicate to the stream for its dedup window: the store's own record of it went with the user.)
    assert.deepEqual(await postEvents([{ eventId: `${run}-after`, userId: first, ...nba }]), { accepted: 1, duplicates: 0 });
    await eventually(() => profile(first), (p) => p !== undefined, "the erased user's new visit");
    assert.equal((await filesWith(first)).trim(), "", "a raw user ID in Redis's files");
});

test("inside the stack, Redis and NATS refuse a client without the credentials", async () => {
    // A container on the pipeline's network (the gateway), with no credentials. The servers keep
    // the connection open: `timeout` ends cat, which has written what it read.
    const ask = (host: string, port: number, line: string) =>
        inContainer("gateway", `exec 3<>/dev/tcp/${host}/${port}; printf '${line}\\r\\n' >&3; timeout 2 cat <&3 || true`);
    assert.match(await ask("redis", 6379, "GET stats:pipeline"), /^-NOAUTH/);
    const nats = await ask("nats", 4222, 'CONNECT {\\"verbose\\":false}\\r\\nPING');
    assert.match(nats, /"auth_required":true/);
    assert.match(nats, /-ERR 'Authorization Violation'/);
    assert.doesNotMatch(nats, /PONG/);
});

test("a replica count for an unknown service fails clearly and changes nothing", async () => {
    const before = await serviceIds();
    stack.setConfig({ "replicas.categorizer": "2" });
    try {
        const preview = stack.run(["preview"], true);
        assert.notEqual(preview.status, 0);
        assert.match(preview.stdout + preview.stderr, /replicas\.categorizer: unknown service; valid services: collector, categoriser, profile-writer, profile-api/);
        assert.notEqual(stack.run(["up", "--yes", "--skip-preview"], true).status, 0);
    } finally {
        stack.run(["config", "rm", "--path", "replicas.categorizer"]);
    }
    assert.equal(await serviceIds(), before);
    const preview = stack.run(["preview", "--expect-no-changes"], true);
    assert.equal(preview.status, 0, preview.stdout + preview.stderr);
});

/** A value the shop stack takes from Pulumi's environment (`${SHOP_TOKEN}`) and from an env file: never in the state in plain text. */
const shopToken = "shop-token-4f9a2c71e5";

/** Writes the files of a user's own stack: two services built from one local context. */
function writeShopStack(dir: string): string {
    fs.mkdirSync(path.join(dir, "app"), { recursive: true });
    fs.writeFileSync(path.join(dir, "app.env"), `SHOP_FILE_TOKEN=${shopToken}-file\n`);
    fs.writeFileSync(path.join(dir, "shop.conf"), "greeting = hello\n");
    fs.writeFileSync(path.join(dir, "api-key.txt"), `${shopToken}-secret`);
    fs.writeFileSync(path.join(dir, "app", "Dockerfile"), [
        "ARG BASE_IMAGE=debian:bookworm-slim",
        "FROM ${BASE_IMAGE}",
        "ARG ROLE=web",
        "ARG TOKEN",
        "RUN echo \"$ROLE\" > /role",
        "STOPSIGNAL SIGKILL",
        "CMD [\"sleep\", \"infinity\"]",
        "",
    ].join("\n"));
    const file = path.join(dir, "compose.yaml");
    fs.writeFileSync(file, [
        "services:",
        "  web:",
        "    build: ./app",
        "    environment: { SHOP_MODE: test, SHOP_TOKEN: \"${SHOP_TOKEN}\" }",
        "    env_file: app.env",
        "    configs: [{ source: settings, target: /etc/shop.conf }]",
        "    secrets: [api-key]",
        "  worker:",
        "    build: { context: ./app, args: { ROLE: worker, TOKEN: \"${SHOP_TOKEN}\" } }",
        "    deploy: { replicas: 2 }",
        "configs:",
        "  settings: { file: ./shop.conf }",
        "secrets:",
        "  api-key: { file: ./api-key.txt }",
        "",
    ].join("\n"));
    return file;
}

test("stacks.shop: your own Compose stack is built, pushed and deployed beside the built-in one; a replica edit is one update", async () => {
    const file = writeShopStack(path.join(stack.work, "shop"));
    const before = await serviceVersions(stack);
    // Every later run interpolates it too (a run without it would change the stack).
    stack.env.extra = { ...stack.env.extra, SHOP_TOKEN: shopToken };
    stack.setConfig({ "stacks.shop.file": file });
    stack.up();
    expectConverged(await serviceReplicas(stack, "shop"), { web: 1, worker: 2 });
    // The interpolated values reached the service, and the state holds them only encrypted
    // (the rendered Compose text and the build script with its build args are secrets).
    const env = await stack.onManager("docker service inspect shop_web --format '{{json .Spec.TaskTemplate.ContainerSpec.Env}}'");
    for (const value of [`SHOP_TOKEN=${shopToken}`, `SHOP_FILE_TOKEN=${shopToken}-file`]) assert.ok(env.includes(value), `${value} in ${env}`);
    assert.ok(!stack.run(["stack", "export"]).stdout.includes(shopToken), "an interpolated value or the secret's content in the state");
    // The config and the secret from files, as the task sees them.
    const machine = (await stack.onManager("docker service ps shop_web --filter desired-state=running --format '{{.Node}}'")).trim();
    const shipped = spawnSync("docker", ["exec", machine, "sh", "-c", "docker exec $(docker ps -q --filter label=com.docker.swarm.service.name=shop_web | head -n 1) cat /etc/shop.conf /run/secrets/api-key"], { encoding: "utf8" });
    assert.equal(shipped.stdout, `greeting = hello\n${shopToken}-secret`, shipped.stderr);
    const inspected = await stack.onManager("docker service inspect shop_web --format '{{range .Spec.TaskTemplate.ContainerSpec.Configs}}{{.ConfigName}} {{end}}{{range .Spec.TaskTemplate.ContainerSpec.Secrets}}{{.SecretName}}{{end}}'");
    assert.match(inspected.trim(), /^shop_settings_[0-9a-f]{12} shop_api-key_[0-9a-f]{12}$/);
    const images = (await stack.onManager("docker service ls --filter label=com.docker.stack.namespace=shop --format '{{.Image}}'")).trim().split("\n");
    for (const image of images) assert.match(image, /^10\.214\.0\.2:5000\/categorisation\/shop\/(web|worker):[0-9a-f]{12}$/);
    const outputs = stack.output<Record<string, Record<string, { image: string; replicas: number }>>>("stacks");
    assert.deepEqual(Object.fromEntries(Object.entries(outputs.shop).map(([n, s]) => [n, s.replicas])), { web: 1, worker: 2 });
    // The build arg reached the build: the worker's image (as pushed from here) says it is the worker.
    const worker = images.find((i) => i.includes("/shop/worker:"))!.replace("10.214.0.2:5000", "127.0.0.1:5300");
    assert.equal(spawnSync("docker", ["run", "--rm", "--entrypoint", "cat", worker, "/role"], { encoding: "utf8" }).stdout, "worker\n");
    assert.match(status(), /^shop_worker +2\/2 +\S+\/categorisation\/shop\/worker:/m);

    stack.setConfig({ "stacks.shop.replicas.web": "3" });
    const preview = stack.run(["preview", "--json"]);
    const steps = (JSON.parse(preview.stdout).steps as { op: string; urn: string }[]).filter((s) => s.op !== "same");
    assert.deepEqual(steps.map((s) => [s.op, s.urn.split("::").pop()]), [["update", "stack-shop-deploy"]]);
    // The diff of the deploy's inputs shows its Compose text as [secret].
    assert.ok(!preview.stdout.includes(shopToken), "an interpolated value in the preview");
    stack.up();
    expectConverged(await serviceReplicas(stack, "shop"), { web: 3, worker: 2 });
    // The built-in stack was not touched by any of it.
    assert.equal(await serviceVersions(stack), before);
});

test("bad stacks: a missing file, bad YAML, a spec breach, an unknown service and the built-in name each get their error; nothing changes", async () => {
    const dir = path.join(stack.work, "bad");
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, "syntax.yaml"), "services:\n  web:\n    image: [unclosed\n");
    fs.writeFileSync(path.join(dir, "spec.yaml"), "services:\n  web:\n    image: a\n    deploy: { replicas: many }\n");
    const shop = await serviceVersions(stack, "shop");
    /** Sets the keys, expects preview and up to fail with each message, then removes what it set. */
    const expectRefused = (values: Record<string, string>, messages: RegExp[]) => {
        stack.setConfig(values);
        try {
            const preview = stack.run(["preview"], true);
            assert.notEqual(preview.status, 0);
            for (const message of messages) assert.match(preview.stdout + preview.stderr, message);
            assert.notEqual(stack.run(["up", "--yes", "--skip-preview"], true).status, 0);
        } finally {
            // A new stack's whole entry (removing only its `file` would leave an empty one behind).
            const entries = new Set(Object.keys(values).map((key) => (key.endsWith(".file") ? key.slice(0, -".file".length) : key)));
            for (const key of entries) stack.run(["config", "rm", "--path", key]);
        }
    };
    // The names are checked with the rest of the config; the files once the config is valid.
    expectRefused({ "stacks.categorisation.file": path.join(stack.work, "shop", "compose.yaml") }, [/stacks\.categorisation: clashes with the built-in stack "categorisation"/]);
    expectRefused({
        "stacks.gone.file": path.join(dir, "missing.yaml"),
        "stacks.syntax.file": path.join(dir, "syntax.yaml"),
        "stacks.spec.file": path.join(dir, "spec.yaml"),
        "stacks.shop.replicas.webb": "2",
    }, [
        /stacks\.gone: \S+missing\.yaml: cannot read the file: it does not exist/,
        /stacks\.syntax: \S+syntax\.yaml: not valid YAML: .* at line \d+, column \d+/,
        /stacks\.spec: \S+spec\.yaml: breaks the Compose specification: services\.web\.deploy\.replicas must be a integer/,
        /stacks\.shop\.replicas\.webb: \S+compose\.yaml has no such service; valid services: web, worker/,
    ]);
    assert.equal(await serviceVersions(stack, "shop"), shop);
    assert.equal((await stack.onManager("docker stack ls --format '{{.Name}}' | sort")).trim(), "categorisation\nshop");
    const preview = stack.run(["preview", "--expect-no-changes"], true);
    assert.equal(preview.status, 0, preview.stdout + preview.stderr);
});

test("a stack removed from config is removed from the swarm, and nothing else changes", async () => {
    const before = await serviceVersions(stack);
    stack.run(["config", "rm", "--path", "stacks.shop"]);
    stack.up();
    const left = await stack.onManager("docker service ls -q --filter label=com.docker.stack.namespace=shop; docker network ls -q --filter label=com.docker.stack.namespace=shop");
    assert.equal(left.trim(), "");
    assert.equal(await serviceVersions(stack), before);
    const preview = stack.run(["preview", "--expect-no-changes"], true);
    assert.equal(preview.status, 0, preview.stdout + preview.stderr);
});

test("workers 2 -> 3 -> 1: nodes join and leave cleanly, other nodes keep their IDs, the stack is not redeployed", async () => {
    const before = idsByHost(await nodeList(stack));
    const services = await serviceIds();
    stack.setConfig({ workers: "3" });
    const grow = upChanges();
    assert.doesNotMatch(grow, /stack-deploy|images-/, "the stack and its images are not touched");
    const grown = idsByHost(await assertSwarmMatchesOutputs(stack, 1, 3));
    for (const [host, id] of Object.entries(before)) assert.equal(grown[host], id, `${host} kept its node ID`);
    // The worker that joined got its share of the stateless roles.
    const joined = stack.output<NodeOutput[]>("workers")[2].name;
    assert.match(await stack.onManager(`docker node ps ${joined} --filter desired-state=running --format '{{.Name}}'`), /^categorisation_/m, `${joined} runs no task of the stack`);
    assert.equal(await serviceIds(), services);
    // A task restarted by a busy machine at that moment is not what this test is about: converged within 60 s.
    expectConverged(await convergedReplicas(stack, 60), { ...declaredReplicas(1, true), categoriser: 1 });

    stack.setConfig({ workers: "1" });
    const shrink = upChanges();
    assert.doesNotMatch(shrink, /stack-deploy/);
    const shrunk = await assertSwarmMatchesOutputs(stack, 1, 1);
    assert.ok(shrunk.every((r) => r.status !== "Down"), "no Down node stays behind");
    for (const row of shrunk) assert.equal(row.id, before[row.hostname], `${row.hostname} kept its node ID`);
    assert.equal(labelledObjects(stack.name).filter((o) => o.startsWith("container") && !o.endsWith("-registry")).length, 2, "removed nodes' containers are gone");
    expectConverged(await convergedReplicas(stack, 60), { ...declaredReplicas(1, true), categoriser: 1 });
});

// No single point of failure: with 3 managers, a stream of events to manager 1's gateway loses
// nothing while the pipeline's code rolls out, a worker is killed (docker kill) and manager 0 is
// killed, with the stream's leaders, the Redis primary and a Sentinel on it. The share of failed
// requests and the recovery times are figures for bench/faults.ts.
const faultRate = 50;
/** Machines a test killed: started again before the stack is destroyed (destroy with dead machines has tests of its own). */
const killed: string[] = [];
const sleep = (seconds: number) => new Promise((r) => setTimeout(r, seconds * 1000));

test("managers 1 -> 3: all reachable with one leader, the replicated layout runs and a gateway answers on every manager", async () => {
    stack.setConfig({ managers: "3" });
    stack.up();
    const three = await assertSwarmMatchesOutputs(stack, 3, 1);
    assert.equal(three.filter((r) => r.manager === "Reachable").length, 2);
    expectConverged(await serviceReplicas(stack), { ...declaredReplicas(3, true), categoriser: 1 });
    const gateways = stack.output<string[]>("gatewayUrls");
    assert.deepEqual(gateways, stack.output<NodeOutput[]>("managers").map((m) => `https://${m.privateAddress}:8080`));
    for (const url of gateways) assert.equal(await healthz({ ...gateway(), url }), 200, url);
    const run = `m3-${Date.now().toString(36)}`;
    await postEvents([{ eventId: `${run}-1`, userId: `fan-${run}`, url: "https://www.nba.com/news/playoff-bracket", title: "NBA playoff bracket" }]);
    await eventually(() => profile(`fan-${run}`), (p) => (p?.interests.length ?? 0) > 0, "a profile written through the replicated stores");
});

test("a change of the pipeline's code rolls out during the stream: nothing lost", async () => {
    const endpoint = stack.gateway(1);
    const before = stack.output<Record<string, { image: string }>>("services").collector.image;
    fs.appendFileSync(path.join(copy, "services", "src", "log.ts"), "// a change that makes a new image\n");
    const load = startLoad(endpoint, faultRate, 20, true);
    await sleep(5);
    stack.up();
    await sleep(5);
    load.stop();
    const summary = await load.done;
    assert.notEqual(stack.output<Record<string, { image: string }>>("services").collector.image, before, "a new pipeline image was deployed");
    await assertNothingLost(endpoint, summary, faultRate, "rolling update");
});

test("docker kill of a worker running pipeline tasks during the stream: nothing lost, its tasks run elsewhere, npm run status shows it down and still answers", async () => {
    const endpoint = stack.gateway(1);
    const busiest = await busiestWorker(stack);
    assert.ok(busiest.tasks > 0, `a worker runs pipeline tasks:\n${busiest.listing}`);
    const load = startLoad(endpoint, faultRate, 45);
    await sleep(15);
    spawnSync("docker", ["kill", busiest.name], { stdio: "inherit" });
    killed.push(busiest.name);
    const summary = await load.done;
    console.log(`worker ${busiest.name} killed: ${summary.sent} sent, ${summary.failed} failed, ${JSON.stringify(outage(summary, 15_000))}`);
    await assertNothingLost(endpoint, summary, faultRate, "worker killed");
    // Tasks on a dead node still count as running in `docker service ls` (the node cannot say
    // otherwise): count the tasks the swarm wants running that are running.
    const stateless = ["collector", "categoriser", "profile-writer", "profile-api"].map((s) => `categorisation_${s}`);
    const running = async () => {
        const out = await stack.onManager(`docker service ps --filter desired-state=running --format '{{.Name}} {{.CurrentState}}' ${stateless.join(" ")}`);
        return out.split("\n").filter((l) => / Running /.test(l)).map((l) => l.split(".")[0]);
    };
    const replicas: Record<string, number> = { ...declaredReplicas(3, true), categoriser: 1 };
    await eventually(running, (names) => stateless.every((s) => names.filter((n) => n === s).length === replicas[s.replace("categorisation_", "")]), "the stateless roles back at their replicas, running", 90);
    const screen = await eventually(async () => status(), (text) => new RegExp(`^${busiest.name} +worker +down `, "m").test(text), `${busiest.name} shown as down`);
    assert.match(screen!, /^read from .*manager-0/);
    // Prometheus sees it too: its MachineDown alert is on its way (it fires after a minute).
    await eventually(() => alerts(endpoint), (list) => list.some((a) => a.labels.alertname === "MachineDown" && a.labels.machine === busiest.name && a.labels.status === "down"), `MachineDown for ${busiest.name}`, 60);
});

test("docker kill of manager 0 during the stream: nothing lost, ingestion goes on", async () => {
    const endpoint = stack.gateway(1);
    const manager0 = stack.output<NodeOutput[]>("managers")[0].name;
    const load = startLoad(endpoint, faultRate, 45);
    await sleep(15);
    spawnSync("docker", ["kill", manager0], { stdio: "inherit" });
    killed.push(manager0);
    const summary = await load.done;
    console.log(`manager 0 killed: ${summary.sent} sent, ${summary.failed} failed, ${JSON.stringify(outage(summary, 15_000))}`);
    await assertNothingLost(endpoint, summary, faultRate, "manager 0 killed");
});

test("manager 0 lost with its disk (container and volume removed): up --refresh brings it back as a manager of the same swarm, and the killed worker with it", async () => {
    const managers = stack.output<NodeOutput[]>("managers");
    const manager0 = managers[0].name;
    const onManager1 = (script: string) => stack.onManager(script, 1);
    const swarmBefore = (await onManager1("docker info --format '{{.Swarm.Cluster.ID}}'")).trim();
    spawnSync("docker", ["rm", "--force", manager0], { stdio: "inherit" });
    killed.splice(killed.indexOf(manager0), 1);
    const volume = spawnSync("docker", ["volume", "rm", `${manager0}-docker`], { encoding: "utf8" });
    assert.equal(volume.status, 0, volume.stderr);

    const started = Date.now();
    const up = stack.run(["up", "--refresh", "--yes", "--skip-preview"]);
    console.log(`# manager 0 made anew, up --refresh: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    assert.doesNotMatch(up.stdout + up.stderr, /formed again/);
    killed.length = 0;
    // The same swarm, never a second one; manager 0 is one of its managers again, and no Down entry stays.
    assert.equal((await stack.onManager("docker info --format '{{.Swarm.Cluster.ID}}'")).trim(), swarmBefore);
    const nodes = (await onManager1("docker node ls --format '{{.Hostname}} {{.Status}} {{.ManagerStatus}}'")).trim().split("\n").sort();
    assert.equal(nodes.length, 4, nodes.join("\n"));
    assert.ok(nodes.every((line) => / Ready/.test(line)), nodes.join("\n"));
    assert.equal(nodes.filter((line) => /(Leader|Reachable)$/.test(line)).length, 3, nodes.join("\n"));
    assert.match(nodes.find((line) => line.startsWith(`${manager0} `)) ?? "", / Ready (Leader|Reachable)$/);
    expectConverged(await convergedReplicas(stack, 180), { ...declaredReplicas(3, true), categoriser: 1 });
    console.log(`# recovered, until converged: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const again = stack.run(["preview", "--refresh", "--expect-no-changes"], true);
    assert.equal(again.status, 0, `nothing left to heal:\n${again.stdout}${again.stderr}`);
});

test("managers 3 -> 1: demoted and removed cleanly", async () => {
    stack.setConfig({ managers: "1" });
    stack.up();
    const one = await assertSwarmMatchesOutputs(stack, 1, 1);
    assert.ok(one.every((r) => r.status !== "Down"));
    expectConverged(await serviceReplicas(stack), { ...declaredReplicas(1, true), categoriser: 1 });
});

test("a machine whose SSH host key changed is refused by name; replacing it through Pulumi pins the new key", async () => {
    const worker = stack.output<NodeOutput[]>("workers")[0];
    const idBefore = idsByHost(await nodeList(stack))[worker.name];
    // New host keys on the running machine, as an impostor (or a rebuild behind Pulumi's back) would present.
    const regenerate = spawnSync("docker", ["exec", worker.name, "sh", "-c", "rm -f /etc/ssh/ssh_host_* && ssh-keygen -A >/dev/null && pkill -HUP -x sshd"], { encoding: "utf8" });
    assert.equal(regenerate.status, 0, regenerate.stderr);
    const newKeys = spawnSync("docker", ["exec", worker.name, "sh", "-c", "for k in /etc/ssh/ssh_host_*_key.pub; do ssh-keygen -l -E sha256 -f $k; done"], { encoding: "utf8" })
        .stdout.trim().split("\n").map((line) => line.split(" ")[1]);
    assert.ok(newKeys.length > 0 && newKeys.every((k) => k.startsWith("SHA256:")), newKeys.join(","));

    const refresh = stack.run(["refresh", "--yes"], true);
    const said = refresh.stdout + refresh.stderr;
    assert.notEqual(refresh.status, 0, said);
    assert.match(said, new RegExp(`the SSH host key of ${worker.name} \\(root@127\\.0\\.0\\.1:${worker.port}\\) changed: pinned \\S+ SHA256:\\S+, presented \\S+ SHA256:\\S+`));
    assert.ok(newKeys.some((k) => said.includes(k)), `the error names the presented key (${newKeys.join(", ")})`);

    // The machine is made anew through Pulumi: its steps are replaced with it and its new key pinned.
    const resources = JSON.parse(stack.run(["stack", "export"]).stdout).deployment.resources as { urn: string }[];
    const machine = resources.map((r) => r.urn).find((urn) => urn.endsWith("::local-worker-0"));
    assert.ok(machine, "the worker's machine resource");
    stack.run(["up", "--yes", "--skip-preview", "--replace", machine!]);
    const rows = await assertSwarmMatchesOutputs(stack, 1, 1);
    assert.ok(rows.every((r) => r.status !== "Down"), "no Down node stays behind");
    assert.notEqual(idsByHost(rows)[worker.name], idBefore, "the rebuilt machine joined as a new node");
    expectConverged(await serviceReplicas(stack), { ...declaredReplicas(1, true), categoriser: 1 });
    const again = stack.run(["refresh", "--yes"], true);
    assert.equal(again.status, 0, again.stdout + again.stderr);
});

test("a stack that does not converge fails in time, naming the service and its task errors", async () => {
    const name = `broken${Date.now().toString(36)}`;
    const compose = [
        'version: "3.8"',
        "services:",
        "  unpullable:",
        "    image: 127.0.0.1:9/nothing/here:1",
        "    deploy: { replicas: 1, endpoint_mode: dnsrr }",
        "",
    ].join("\n");
    try {
        const swarmId = (await stack.onManager("docker info --format '{{.Swarm.Cluster.ID}}'")).trim();
        await assert.rejects(runScript({ connection: stack.managerConnection(), stdin: compose }, deployScript(name, 20, swarmId)), (err: Error) => {
            assert.match(err.message, new RegExp(`stack ${name} did not converge within 20s`));
            assert.match(err.message, new RegExp(`- ${name}_unpullable runs 0 of 1`));
            assert.match(err.message, /No such image|manifest|pull|connection refused/i);
            return true;
        });
    } finally {
        await runScript({ connection: stack.managerConnection() }, removeStackScript(name, 60));
    }
});

test("the state holds neither a private key, a join token nor a gateway token in plaintext", async () => {
    const exported = stack.run(["stack", "export"]).stdout;
    const token = (await stack.onManager("docker swarm join-token -q worker")).trim();
    assert.match(token, /^SWMTKN-/);
    assert.ok(!exported.includes(token), "worker join token in the state");
    assert.doesNotMatch(exported, /SWMTKN-/);
    assert.doesNotMatch(exported, /PRIVATE KEY/);
    const key = stack.output<string>("sshPrivateKey");
    assert.ok(!exported.includes(key.split("\n")[1]), "private key in the state");
    for (const name of ["ingestToken", "adminToken"]) assert.ok(!exported.includes(stack.output<string>(name)), `${name} in the state`);
    // The made tokens, the stores' passwords and the key of the store's user IDs.
    assert.doesNotMatch(exported, /\b(ingest|admin|userkey|redis|nats)_[A-Za-z0-9_-]{43}\b/);
});

test("a subnet another network holds fails up naming that network, and leaves no machine behind", () => {
    const clash = new TestStack(uniqueStackName("bad"));
    try {
        clash.setConfig({ provider: "local", managers: "1", workers: "0", "local.subnet": "10.214.0.0/24", "local.sshPortBase": "2320", "local.registryPort": "5320" });
        const up = clash.run(["up", "--yes", "--skip-preview"], true);
        assert.notEqual(up.status, 0);
        const output = up.stdout + up.stderr;
        assert.match(output, /the subnet 10\.214\.0\.0\/24 overlaps a Docker network already here/);
        assert.ok(output.includes(`swarm-${stack.name} 10.214.0.0/24`), output);
        assert.match(output, /pulumi config set --path local\.subnet/);
        assert.deepEqual(labelledObjects(clash.name), []);
    } finally {
        clash.cleanup();
    }
});

test("a full store: with redis.maxMemory 16mb a flood of new users fills Redis, which is never restarted; privacy.retention 60s frees the space and every accepted event is applied", async () => {
    stack.setConfig({ "privacy.retention": "60s", "redis.maxMemory": "16mb" });
    stack.up();
    const redisTasks = async () => (await stack.onManager("docker service ps -q categorisation_redis")).trim().split("\n").length;
    const tasksBefore = await redisTasks();
    const redisInfo = async (section: string) => inContainer("redis", `REDISCLI_AUTH=$(cat /run/secrets/store-password) redis-cli info ${section}`);
    const field = (info: string, name: string) => Number(new RegExp(`${name}:(\\d+)`).exec(info)?.[1] ?? 0);
    assert.equal(field(await redisInfo("memory"), "maxmemory"), 16 * 1024 * 1024);
    const oomErrors = async () => Number(/errorstat_OOM:count=(\d+)/.exec(await redisInfo("errorstats"))?.[1] ?? 0);
    const oomBefore = await oomErrors();

    const stats = await pipelineStats();
    const handled = (now: Record<string, number>) => ["written", "unmatched", "sensitive", "duplicates", "erased"].reduce((sum, key) => sum + (now[key] ?? 0) - (stats[key] ?? 0), 0);
    const run = Date.now().toString(36);
    let accepted = 0;
    let batches = 0;
    let full = false;
    const flood = async (count: number) => {
        for (let i = 0; i < count; i++, batches++) {
            const events = Array.from({ length: 100 }, (_, j) => ({ eventId: `${run}-${batches}-${j}`, userId: `flood-${run}-${batches}-${j}`, url: "https://www.nba.com/news/playoff-bracket", title: "NBA playoff bracket" }));
            const response = await gatewayRequest(gateway(), "/events", { body: JSON.stringify(events) });
            assert.equal(response.status, 202, `batch ${batches}: ${response.status} ${response.body}`);
            accepted += (JSON.parse(response.body) as { accepted: number }).accepted;
        }
    };
    // New users until Redis refuses writes, then some more: the stream holds them.
    while (!full && batches < 3000) {
        await flood(25);
        full = (await oomErrors()) > oomBefore;
    }
    assert.ok(full, `Redis never filled after ${accepted} events`);
    await flood(10);
    const stalled = await pipelineStats();
    assert.ok(handled(stalled) < accepted, "the store took everything: it was not full");

    // Retention frees the space; the writers carry on by themselves and apply each event once.
    await eventually(pipelineStats, (now) => handled(now) >= accepted, `all ${accepted} accepted events applied`, 300);
    assert.equal(handled(await pipelineStats()), accepted, "an event counted twice");
    assert.equal(await redisTasks(), tasksBefore, "Redis was restarted");
    assert.equal((await inContainer("redis", "cat /proc/1/cmdline >/dev/null && echo alive")).trim(), "alive");
    const oomKilled = await stack.onManager("docker inspect --format '{{.State.OOMKilled}} {{.RestartCount}}' $(docker ps -q --filter label=com.docker.swarm.service.name=categorisation_redis)");
    assert.equal(oomKilled.trim(), "false 0");
    console.log(`# a full store (16 MB): ${accepted} events accepted, ${handled(stalled)} applied when it was full, all ${accepted} applied after retention freed it; Redis restarts: 0`);
    // The flood's profiles go 60 s after their last event.
    const sample = `flood-${run}-0-0`;
    await eventually(async () => (await profile(sample)) === undefined, (gone) => gone, "a flood profile past its retention", 120);
});

test("pulumi destroy removes the stack and the nodes: nothing labelled with the stack remains", () => {
    const destroy = stack.run(["destroy", "--yes", "--skip-preview"]);
    assert.match(destroy.stdout, /stack-deploy deleted/);
    assert.deepEqual(labelledObjects(stack.name), []);
});

test("an invalid config fails preview with the reason and creates nothing", () => {
    const bad = new TestStack(uniqueStackName("bad"));
    try {
        bad.setConfig({ managers: "2" });
        const preview = bad.run(["preview"], true);
        assert.notEqual(preview.status, 0);
        assert.match(preview.stdout + preview.stderr, /managers: 2 is not an odd number from 1 to 7/);
        const up = bad.run(["up", "--yes", "--skip-preview"], true);
        assert.notEqual(up.status, 0);
        const resources = JSON.parse(bad.run(["stack", "export"]).stdout).deployment.resources ?? [];
        assert.ok(resources.every((r: { type: string }) => r.type === "pulumi:pulumi:Stack"), JSON.stringify(resources.map((r: { type: string }) => r.type)));
        assert.deepEqual(labelledObjects(bad.name), []);
    } finally {
        bad.cleanup();
    }
});
