// The monitoring's config and alert rules, loaded by the Prometheus server the stack deploys (built
// by its image's prepare.sh, cached after the first build): it refuses to start on a config or a
// rule it cannot parse, and evaluates every rule here with no target to scrape.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { parse, stringify } from "yaml";
import { scalableServices } from "../../stacks/categorisation";
import { alertRules, prometheusConfig, prometheusPath } from "../../stacks/monitoring";
import { projectRoot } from "../helpers/pulumi";

const freePort = () =>
    new Promise<number>((resolve, reject) => {
        const server = net.createServer().listen(0, "127.0.0.1", () => {
            const { port } = server.address() as net.AddressInfo;
            server.close(() => resolve(port));
        });
        server.on("error", reject);
    });

interface Rule {
    name: string;
    health: string;
    lastError?: string;
    state?: string;
    labels?: Record<string, string>;
}

test("Prometheus loads the stack's config and rules and evaluates every rule; with no task of any role, each role's RoleWithoutTask is pending and nothing else is", { timeout: 900_000 }, async () => {
    const context = path.join(projectRoot, "services/docker/prometheus");
    const prepared = spawnSync("bash", ["prepare.sh"], { cwd: context, encoding: "utf8", timeout: 880_000 });
    assert.equal(prepared.status, 0, prepared.stderr);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prometheus-rules-"));
    const port = await freePort();
    const config = parse(prometheusConfig("categorisation", scalableServices, "pipeline"));
    config.rule_files = [path.join(dir, "rules.yml")];
    // The scrapes and Docker discovery fail here (no socket, no tasks): the rules are what is tested.
    for (const job of config.scrape_configs) for (const sd of job.dockerswarm_sd_configs ?? []) sd.host = `unix://${dir}/no-docker.sock`;
    fs.writeFileSync(path.join(dir, "prometheus.yml"), stringify(config));
    fs.writeFileSync(path.join(dir, "rules.yml"), alertRules(scalableServices));
    const server = spawn(path.join(context, ".image/prometheus"), [
        `--config.file=${dir}/prometheus.yml`, `--storage.tsdb.path=${dir}/data`, `--web.listen-address=127.0.0.1:${port}`, `--web.route-prefix=${prometheusPath}`,
    ], { stdio: ["ignore", "ignore", "pipe"] });
    let log = "";
    server.stderr.on("data", (chunk) => (log += chunk));
    const exited = new Promise<number | null>((resolve) => server.on("exit", resolve));
    try {
        const api = `http://127.0.0.1:${port}${prometheusPath}/api/v1`;
        let rules: Rule[] = [];
        for (const deadline = Date.now() + 60_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 500))) {
            assert.equal(server.exitCode, null, `prometheus exited:\n${log.slice(-2000)}`);
            const answer = await fetch(`${api}/rules`).then((r) => r.json() as Promise<{ data: { groups: { rules: Rule[] }[] } }>).catch(() => undefined);
            rules = answer?.data.groups.flatMap((g) => g.rules) ?? [];
            if (rules.length > 0 && rules.every((r) => r.health !== "unknown")) break;
        }
        assert.deepEqual(rules.map((r) => r.name), [...scalableServices.map(() => "RoleWithoutTask"), "ConsumerLagGrowing", "ProfileStoreNearlyFull", "MachineDown"]);
        for (const rule of rules) assert.equal(rule.health, "ok", `${rule.name}: ${rule.lastError}`);
        assert.deepEqual(rules.filter((r) => r.state !== "inactive").map((r) => `${r.name} ${r.labels?.role} ${r.state}`), scalableServices.map((s) => `RoleWithoutTask ${s} pending`));
    } finally {
        server.kill("SIGTERM");
        await exited;
        fs.rmSync(dir, { recursive: true, force: true });
    }
});
