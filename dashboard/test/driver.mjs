// Drives Debian's Chromium for the Python tests and bench: one JSON command per stdin
// line, one JSON reply per stdout line ({"ok": true, "value": ...} or {"ok": false,
// "error": "..."}). playwright-core never downloads a browser; it uses CHROMIUM.
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
// Without the background-networking flags Chromium keeps dialling out of a closed network.
const args = [
  "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
];

let browser = null;
let page = null;
const pageErrors = [];

const ops = {
  async open({ url, width = 412, height = 915, login = null }) {
    // launch() gives every run a fresh temporary --user-data-dir of its own.
    browser ??= await chromium.launch({ executablePath, args, headless: true });
    // login answers the server's HTTP Basic challenge, as a person typing it would.
    const httpCredentials = login ? { username: login[0], password: login[1] } : undefined;
    page = await browser.newPage({ viewport: { width, height }, httpCredentials });
    page.on("pageerror", (err) => pageErrors.push(String(err)));
    page.on("console", (msg) => {
      if (msg.type() === "error") pageErrors.push(msg.text());
    });
    await page.goto(url, { waitUntil: "load" });
    return true;
  },
  async waitText({ selector, text, timeout = 10000 }) {
    try {
      await page.waitForFunction(
        ([sel, want]) => document.querySelector(sel)?.textContent.includes(want),
        [selector, text],
        { timeout },
      );
    } catch (err) {
      const shown = await page.evaluate((sel) => document.querySelector(sel)?.textContent, selector);
      throw new Error(`${selector} shows ${JSON.stringify(shown)}, not ${JSON.stringify(text)}`);
    }
    return true;
  },
  async waitVisible({ selector, timeout = 10000 }) {
    await page.locator(selector).first().waitFor({ state: "visible", timeout });
    return true;
  },
  async text({ selector }) {
    return page.locator(selector).first().innerText();
  },
  async texts({ selector }) {
    return page.locator(selector).allInnerTexts();
  },
  async attr({ selector, name }) {
    return page.locator(selector).first().getAttribute(name);
  },
  async visible({ selector }) {
    return page.locator(selector).first().isVisible();
  },
  async click({ selector }) {
    await page.locator(selector).first().click();
    return true;
  },
  async evaluate({ expression }) {
    return page.evaluate(expression);
  },
  async screenshot({ path, fullPage = true }) {
    await page.screenshot({ path, fullPage });
    return path;
  },
  async errors() {
    return pageErrors;
  },
  async close() {
    await browser?.close();
    browser = null;
    return true;
  },
};

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (!line.trim()) continue;
  let reply;
  try {
    const { op, ...params } = JSON.parse(line);
    if (!ops[op]) throw new Error(`unknown op ${op}`);
    reply = { ok: true, value: (await ops[op](params)) ?? null };
  } catch (err) {
    reply = { ok: false, error: String(err?.message ?? err).split("\n")[0] };
  }
  process.stdout.write(`${JSON.stringify(reply)}\n`);
}
await browser?.close();
