// A real browser for the e2e tests: Debian's chromium, headless, driven over the DevTools protocol.
import * as fs from "node:fs";
import * as path from "node:path";
import puppeteer, { type Browser } from "puppeteer-core";
import { projectRoot } from "./pulumi";

const candidates = ["/usr/bin/chromium", "/usr/bin/chromium-browser"];

/** Where the tests keep what they want a person to look at (screenshots). */
export const artifactsDir = path.join(projectRoot, "test-artifacts");

/** Runs `use` with a headless chromium, closed afterwards whatever happens. Fails when there is none. */
export async function withBrowser<T>(use: (browser: Browser) => Promise<T>): Promise<T> {
    const executablePath = candidates.find((file) => fs.existsSync(file));
    if (!executablePath) throw new Error(`no chromium at ${candidates.join(" or ")}: install Debian's chromium package (.ci/run does)`);
    // No sandbox: the tests run as root in a container. The gateway's certificate is from the
    // stack's own CA, which the tests check in Node.js; this chromium has no store to add it to.
    const browser = await puppeteer.launch({ executablePath, headless: true, acceptInsecureCerts: true, args: ["--no-sandbox", "--disable-dev-shm-usage"] });
    try {
        return await use(browser);
    } finally {
        await browser.close();
    }
}
