// A client of a stack's gateway, for `npm run status`, the tests and the benchmarks: HTTPS that
// trusts the stack's CA (not the machine's), with a token. Tokens travel only in the header.
import * as https from "https";
import type { IncomingHttpHeaders } from "http";

/** Where a stack's gateway is and what it takes, from the stack's outputs. */
export interface GatewayEndpoint {
    /** https://host:port of one gateway (or of the load balancer). */
    url: string;
    /** PEM of the stack's CA; absent: the machine's trusted CAs (your own certificate). */
    ca?: string;
    ingestToken?: string;
    adminToken?: string;
}

export interface GatewayRequest {
    method?: string;
    /** JSON text. */
    body?: string;
    headers?: Record<string, string>;
    /** Which token goes in `Authorization: Bearer`; `none` for none. Default: ingest for POST /events, admin otherwise. */
    token?: "ingest" | "admin" | "none";
    timeoutMs?: number;
}

export interface GatewayResponse {
    status: number;
    headers: IncomingHttpHeaders;
    body: string;
}

const agents = new Map<string, https.Agent>();

/** One kept-alive agent per CA, as a browser or tag server keeps its connections. */
function agentFor(ca: string | undefined): https.Agent {
    const key = ca ?? "";
    let agent = agents.get(key);
    if (!agent) {
        agent = new https.Agent({ keepAlive: true, maxSockets: 64, ...(ca ? { ca } : {}) });
        agents.set(key, agent);
    }
    return agent;
}

/** Sends one request to `path` (with its query) on the gateway; resolves with any status, rejects on no answer. */
export async function gatewayRequest(gateway: GatewayEndpoint, path: string, request: GatewayRequest = {}): Promise<GatewayResponse> {
    try {
        return await send(gateway, path, request);
    } catch (error) {
        // A kept-alive connection the gateway dropped meanwhile (a gateway task replaced): once more on a new one.
        if (!(error as { reusedSocket?: boolean }).reusedSocket) throw error;
        return send(gateway, path, request);
    }
}

function send(gateway: GatewayEndpoint, path: string, request: GatewayRequest): Promise<GatewayResponse> {
    const method = request.method ?? (request.body === undefined ? "GET" : "POST");
    const kind = request.token ?? (method === "POST" && path.startsWith("/events") ? "ingest" : "admin");
    const token = kind === "ingest" ? gateway.ingestToken : kind === "admin" ? gateway.adminToken : undefined;
    const headers: Record<string, string> = {
        ...(request.body !== undefined ? { "content-type": "application/json", "content-length": String(Buffer.byteLength(request.body)) } : {}),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...request.headers,
    };
    return new Promise((resolve, reject) => {
        const req = https.request(new URL(path, gateway.url), { method, headers, agent: agentFor(gateway.ca), timeout: request.timeoutMs ?? 30_000 }, (res) => {
            let body = "";
            res.setEncoding("utf8");
            res.on("data", (chunk: string) => (body += chunk));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
            res.on("error", reject);
        });
        req.on("timeout", () => req.destroy(new Error(`no answer from ${gateway.url}${path} within ${request.timeoutMs ?? 30_000} ms`)));
        req.on("error", (error: NodeJS.ErrnoException) => {
            const stale = req.reusedSocket && (error.code === "ECONNRESET" || error.code === "EPIPE");
            reject(Object.assign(error, { reusedSocket: stale }));
        });
        req.end(request.body);
    });
}

/** Closes the kept-alive connections (a process that is done exits at once). */
export function closeGatewayConnections(): void {
    for (const agent of agents.values()) agent.destroy();
    agents.clear();
}
