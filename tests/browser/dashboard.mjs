// The dashboard in Debian's headless Chromium, driven by playwright-core (no browser download).
//
//   node tests/browser/dashboard.mjs <base-url> <api-token> <screenshot.png>
//
// tests/dashboard.rs starts the daemon against the fake GitHub and runs this. It checks:
//  1. opened directly: one card per repository the API lists, each with its charts and a
//     health badge; the event stream connects; a full-page screenshot; every request stays
//     on the daemon's origin; then "Re-run failed jobs" on homelab-demo/ha-config is clicked,
//     the page asks for the API token (401 outside ingress), retries with it, and shows the
//     command's success. (The Rust side checks the fake GitHub received the POST.)
//  2. behind path-prefix proxies: a small Node proxy mounts the daemon under a prefix and
//     strips it, as reverse proxies do. Once as a plain sub-path (/gitops/, no headers at
//     all, like nginx or Traefik), once like the Supervisor's ingress proxy
//     (/api/hassio_ingress/test/, with X-Ingress-Path). Each is opened with and without the
//     trailing slash; the page must show the same as opened directly, and every request it
//     makes must stay under the prefix.
// Exits non-zero with a message on the first failure.

import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const [base0, apiToken, screenshotPath] = process.argv.slice(2);
if (!base0 || !apiToken || !screenshotPath) {
  console.error("usage: node dashboard.mjs <base-url> <api-token> <screenshot.png>");
  process.exit(2);
}
const base = base0.replace(/\/+$/, "");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const REPO = process.env.DASHBOARD_REPO || "homelab-demo/ha-config";
/** Where the proxies mount the daemon: a plain sub-path, and HA ingress's kind of path. */
const PROXIES = [
  { name: "sub-path", prefix: "/gitops", headers: {} },
  { name: "ingress", prefix: "/api/hassio_ingress/test", headers: { "x-ingress-path": "/api/hassio_ingress/test" } },
];
const LEVELS = ["healthy", "warning", "critical", "unknown"];

/** `dashboard.png` → `dashboard.<name>.png`, beside it. */
const shot = (name) => `${screenshotPath.replace(/\.png$/, "")}.${name}.png`;

class Failure extends Error {}
function check(cond, message) {
  if (!cond) throw new Failure(message);
}
const t0 = Date.now();
const log = (...a) => console.log(`dashboard [${((Date.now() - t0) / 1000).toFixed(1)} s]:`, ...a);

// A hard stop, so a hung browser never hangs the test run.
const watchdog = setTimeout(() => {
  console.error("dashboard test FAILED: timed out after 150 s");
  process.exit(1);
}, 150_000);

async function apiRepos() {
  const r = await fetch(`${base}/api/repos`);
  check(r.ok, `GET ${base}/api/repos answered ${r.status}`);
  return (await r.json()).repositories;
}

/** Records every request a page makes, and page errors. */
function instrument(page, label) {
  const requests = [];
  const problems = [];
  page.on("request", (req) => requests.push(req.url()));
  page.on("pageerror", (err) => problems.push(`${label}: uncaught ${err.message}`));
  page.on("console", (msg) => {
    // Chromium logs every non-2xx fetch as "Failed to load resource"; the 401 is expected.
    if (msg.type() === "error" && !/Failed to load resource/.test(msg.text())) {
      problems.push(`${label}: console error: ${msg.text()}`);
    }
  });
  return { requests, problems };
}

/** Waits until the page shows `count` cards, each with its charts, badge and recent runs. */
async function waitForCards(page, count, label) {
  await page.waitForFunction(
    (n) => document.querySelectorAll("#repos .card").length === n,
    count,
    { timeout: 20_000 },
  ).catch(async () => {
    const have = await page.locator("#repos .card").count();
    const banner = await page.locator("#banner").textContent().catch(() => "");
    throw new Failure(`${label}: expected ${count} repository cards, the page shows ${have} ${banner ? `(banner: ${banner})` : ""}`);
  });
  await page.waitForFunction(
    () => [...document.querySelectorAll("#repos .card")].every((c) => c.dataset.details),
    null,
    { timeout: 20_000 },
  ).catch(() => {
    throw new Failure(`${label}: not every card finished loading its trends`);
  });
  const cards = await page.$$eval("#repos .card", (cards) => cards.map((c) => ({
    repo: c.dataset.repo,
    details: c.dataset.details,
    charts: c.querySelectorAll("svg.chart").length,
    bars: c.querySelectorAll("svg.chart .bar").length,
    badge: (c.querySelector(".badge.health .badge-label") || {}).textContent || "",
    level: c.dataset.level,
    link: (c.querySelector(".card-title a") || {}).href || "",
  })));
  for (const c of cards) {
    check(c.details === "loaded", `${label}: ${c.repo}: trends failed to load`);
    check(c.charts >= 2, `${label}: ${c.repo}: ${c.charts} SVG charts, expected 2 (success rate, duration)`);
    check(c.bars > 0, `${label}: ${c.repo}: the success-rate chart has no days`);
    check(LEVELS.includes(c.level) && c.badge.trim().length > 0, `${label}: ${c.repo}: no health badge (level ${c.level}, text "${c.badge}")`);
    check(c.link.startsWith("https://") || c.link.startsWith("http://"), `${label}: ${c.repo}: the name does not link to GitHub (${c.link})`);
  }
  await page.waitForSelector('#live[data-state="live"]', { timeout: 15_000 }).catch(() => {
    throw new Failure(`${label}: the event stream did not connect (live indicator never said "live")`);
  });
  const junk = await page.evaluate(() => (document.body.innerText.match(/.{0,30}\b(null|undefined|NaN|\[object Object\])\b.{0,30}/) || [])[0]);
  check(!junk, `${label}: the page shows a missing value: "${junk}"`);
  return cards;
}

/** Every request must stay under `prefix` (no absolute-root URLs, no CDN, no other host). */
function checkRequests(requests, prefix, label, except = []) {
  const stray = requests.filter((u) => !u.startsWith(prefix) && !except.includes(u));
  check(stray.length === 0, `${label}: requests outside ${prefix}: ${stray.join(", ")}`);
  for (const path of ["api/repos", "api/events", "api/workflow-status/", "api/workflow-history/", "assets/app.js", "assets/app.css"]) {
    check(requests.some((u) => u.startsWith(prefix + path)), `${label}: no request to ${prefix}${path}`);
  }
}

/**
 * The page shows what the API says: a full card per repository in the API's order (see
 * waitForCards), and the HA config check as `api/validation` reports it, hidden when
 * validation is off (404).
 */
async function showsWhatTheApiSays(page, repos, label) {
  const cards = await waitForCards(page, repos.length, label);
  check(
    JSON.stringify(cards.map((c) => c.repo)) === JSON.stringify(repos.map((r) => r.full_name)),
    `${label}: cards ${cards.map((c) => c.repo)} do not match the API's ${repos.map((r) => r.full_name)}`,
  );
  const v = await fetch(`${base}/api/validation`);
  const panel = page.locator("#validation");
  if (v.status === 200) {
    const { summary } = await v.json();
    const want = summary.errors ? `${summary.errors} error` : summary.warnings ? `${summary.warnings} warning` : "no problems";
    await page.waitForFunction((w) => (document.getElementById("validation").textContent || "").includes(w), want, { timeout: 10_000 })
      .catch(async () => {
        throw new Failure(`${label}: the config check panel does not say "${want}": "${await panel.textContent()}"`);
      });
    log(`${label}: config check panel: ${(await panel.locator(".validation-head").textContent()).trim()}`);
  } else {
    check(await panel.isHidden(), `${label}: api/validation answered ${v.status} but the panel shows`);
  }
  return cards;
}

async function directRun(context, repos) {
  const page = await context.newPage();
  const { requests, problems } = instrument(page, "direct");
  await page.goto(`${base}/`, { waitUntil: "domcontentloaded" });
  const cards = await showsWhatTheApiSays(page, repos, "direct");
  log(`${cards.length} cards:`, cards.map((c) => `${c.repo} (${c.level}, ${c.bars} days)`).join(", "));

  // Let the charts settle at their real widths, then the screenshot.
  await page.waitForTimeout(400);
  await page.screenshot({ path: screenshotPath, fullPage: true });
  log(`screenshot: ${screenshotPath}`);

  // The allowed actions and only those, as buttons.
  const repo = repos.find((r) => r.full_name === REPO);
  check(repo, `the API does not list ${REPO}`);
  const card = page.locator(`#repos .card[data-repo="${REPO}"]`);
  const shown = await card.locator("button.action").evaluateAll((bs) => bs.map((b) => b.dataset.action));
  const expected = repo.actions.flatMap((a) => (a === "dispatch" ? repo.dispatch.map(() => "dispatch") : [a]));
  check(
    JSON.stringify([...shown].sort()) === JSON.stringify([...expected].sort()),
    `${REPO}: buttons ${shown} but allowed actions ${expected}`,
  );
  for (const other of repos.filter((r) => !r.actions.length)) {
    const n = await page.locator(`#repos .card[data-repo="${other.full_name}"] button.action`).count();
    check(n === 0, `${other.full_name} allows no action but shows ${n} buttons`);
  }

  check(await card.locator(".chip.running").count() === 0, `${REPO} shows "running" before anything was started`);

  // Click "Re-run failed jobs": outside ingress the daemon answers 401, so the page asks
  // for the token in its form, keeps it for the tab, and retries.
  await card.getByRole("button", { name: /Re-run failed jobs/ }).click();
  const input = card.locator('form.token-form input[name="token"]');
  await input.waitFor({ state: "visible", timeout: 10_000 }).catch(() => {
    throw new Failure("no token form appeared after the command was refused with 401");
  });
  check(await input.evaluate((i) => document.activeElement === i), "the token field did not get the focus");
  await card.screenshot({ path: shot("token-form") });
  await input.fill(apiToken);
  await card.locator("form.token-form").getByRole("button", { name: "Send" }).click();
  const toast = page.locator("#toasts .toast");
  await toast.first().waitFor({ timeout: 15_000 }).catch(() => {
    throw new Failure("no result message after sending the token");
  });
  const toastText = (await toast.first().locator(".toast-text").textContent()).trim();
  const ok = await toast.first().evaluate((t) => t.classList.contains("ok"));
  check(ok, `the command failed: ${toastText}`);
  check(/re-running the failed jobs/i.test(toastText), `unexpected result message: ${toastText}`);
  const inline = (await card.locator(".action-result").textContent()).trim();
  check(inline.includes("re-running the failed jobs"), `the card does not show the result (${inline})`);
  log(`result: ${toastText}`);
  await page.screenshot({ path: shot("result") });
  const stored = await page.evaluate(() => sessionStorage.getItem("gitops-bridge.api-token"));
  check(stored === apiToken, "the token was not kept in sessionStorage");

  // Live: the re-run is queued on GitHub; the next poll reaches the page over the stream.
  await card.locator(".chip.running").waitFor({ timeout: 20_000 }).catch(() => {
    throw new Failure(`${REPO}: the card never showed the queued re-run as running (live updates)`);
  });
  log(`${REPO} shows the re-run as running (live update)`);

  checkRequests(requests, `${base}/`, "direct");
  check(problems.length === 0, problems.join("; "));
  await page.close();
}

/** On a phone: nothing wider than the screen. And dark mode renders. */
async function smallAndDark(context, repos) {
  const page = await context.newPage();
  const { problems } = instrument(page, "phone");
  await page.setViewportSize({ width: 390, height: 844 });
  await page.emulateMedia({ colorScheme: "dark" });
  await page.goto(`${base}/`, { waitUntil: "domcontentloaded" });
  await waitForCards(page, repos.length, "phone");
  await page.waitForTimeout(400);
  const { scroll, inner } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, inner: window.innerWidth }));
  check(scroll <= inner, `phone: the page is ${scroll}px wide on a ${inner}px screen`);
  const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  check(bg !== "rgb(245, 246, 248)", `dark mode: the background stayed light (${bg})`);
  await page.screenshot({ path: shot("phone-dark"), fullPage: true });
  check(problems.length === 0, problems.join("; "));
  log("phone width (390 px, dark): no horizontal scrolling");
  await page.close();
}

/** Failures are shown, not swallowed: the API down, a repository gone (404), the stream down. */
async function errors(context, repos) {
  const page = await context.newPage();
  const gone = repos[repos.length - 1].full_name;
  let apiDown = true;
  await page.route("**/api/repos", (route) => (apiDown
    ? route.fulfill({ status: 502, contentType: "text/plain", body: "Bad Gateway" })
    : route.continue()));
  await page.route(`**/api/workflow-status/${gone}`, (route) => route.fulfill({
    status: 404, contentType: "application/json", body: JSON.stringify({ error: `${gone} is not a watched repository` }),
  }));
  await page.route("**/api/events", (route) => route.abort());
  await page.goto(`${base}/`, { waitUntil: "domcontentloaded" });
  const banner = page.locator("#banner");
  await banner.waitFor({ state: "visible", timeout: 10_000 }).catch(() => {
    throw new Failure("errors: no banner while the API answers 502");
  });
  const text = await banner.textContent();
  check(/HTTP 502/.test(text), `errors: the banner does not say what failed: "${text}"`);
  apiDown = false;
  await banner.getByRole("button", { name: "Retry now" }).click();
  await page.waitForFunction((n) => document.querySelectorAll("#repos .card").length === n, repos.length, { timeout: 10_000 })
    .catch(() => {
      throw new Failure("errors: the cards did not come after retrying");
    });
  await banner.waitFor({ state: "hidden", timeout: 5_000 }).catch(() => {
    throw new Failure("errors: the banner stayed after the API came back");
  });
  const card = page.locator(`#repos .card[data-repo="${gone}"]`);
  await card.locator(".details-error").waitFor({ timeout: 10_000 }).catch(() => {
    throw new Failure(`errors: ${gone} does not show that its status answered 404`);
  });
  const msg = await card.locator(".details-error").textContent();
  check(/not watched any more/.test(msg), `errors: unexpected 404 message "${msg}"`);
  await page.waitForSelector('#live[data-state="down"]', { timeout: 10_000 }).catch(() => {
    throw new Failure('errors: the live indicator does not say "reconnecting" without the stream');
  });
  log("errors: API down → banner and retry, 404 → card message, stream down → reconnecting");
  await page.close();
}

/**
 * A reverse proxy that mounts the daemon at `prefix` and strips it (`<prefix>/x` → daemon
 * `/x`, `<prefix>` → `/`), adding `headers` to every request. It changes nothing in the
 * answers, and answers 404 to anything outside the prefix, recording it.
 */
function prefixProxy({ prefix, headers: extra }) {
  const target = new URL(base);
  const stray = [];
  const server = http.createServer((req, res) => {
    const url = req.url || "/";
    if (url !== prefix && !url.startsWith(`${prefix}/`) && !url.startsWith(`${prefix}?`)) {
      stray.push(url);
      res.writeHead(404, { "content-type": "text/plain" }).end(`not under ${prefix}\n`);
      return;
    }
    const rest = url.slice(prefix.length);
    const path = rest.startsWith("/") ? rest : `/${rest}`;
    const headers = { ...req.headers, host: target.host, ...extra };
    const upstream = http.request(
      { host: target.hostname, port: target.port, method: req.method, path, headers },
      (up) => {
        res.writeHead(up.statusCode, up.headers);
        up.pipe(res); // streams, so the event stream passes through as it comes
      },
    );
    upstream.on("error", (e) => {
      if (!res.headersSent) res.writeHead(502).end(String(e));
    });
    // When the browser goes away (a closed event stream), so does the upstream request.
    res.on("close", () => upstream.destroy());
    req.pipe(upstream);
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => resolve({ server, stray, url: `http://127.0.0.1:${server.address().port}` }));
  });
}

/**
 * The dashboard behind a proxy at `prefix`, opened with and without the trailing slash (a
 * bookmark or a hand-typed address often lacks it; HA opens ingress panels both ways). The
 * daemon sees `/` either way and is told nothing about the prefix.
 */
async function proxiedRun(context, repos, { name, prefix, headers }) {
  const proxy = await prefixProxy({ prefix, headers });
  try {
    for (const entry of [`${prefix}/`, prefix]) {
      const page = await context.newPage();
      const label = `${name} ${entry}`;
      const { requests, problems } = instrument(page, label);
      await page.goto(`${proxy.url}${entry}`, { waitUntil: "domcontentloaded" });
      const cards = await showsWhatTheApiSays(page, repos, label);
      check(await page.evaluate(() => !document.querySelector("base")), `${label}: the page has a <base> element`);
      check(page.url() === `${proxy.url}${prefix}/`, `${label}: the address is ${page.url()}, expected ${proxy.url}${prefix}/`);
      checkRequests(requests, `${proxy.url}${prefix}/`, label, [`${proxy.url}${entry}`]);
      check(problems.length === 0, problems.join("; "));
      log(`${label}: ${cards.length} cards, live, ${requests.length} requests all under ${prefix}/`);
      await page.close();
    }
    check(proxy.stray.length === 0, `${name}: requests outside ${prefix} reached the proxy: ${proxy.stray.join(", ")}`);
  } finally {
    proxy.server.closeAllConnections();
    proxy.server.close();
  }
}

async function main() {
  const repos = await apiRepos();
  check(repos.length > 0, "the API lists no repositories");
  const profile = mkdtempSync(join(tmpdir(), "gitops-bridge-chromium-"));
  let context;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
      viewport: { width: 1280, height: 900 },
      colorScheme: "light",
      locale: "en-US",
      timezoneId: "UTC",
    });
    context.setDefaultTimeout(20_000);
    try {
      await directRun(context, repos);
      await smallAndDark(context, repos);
      await errors(context, repos);
      for (const proxy of PROXIES) await proxiedRun(context, repos, proxy);
    } catch (e) {
      const page = context.pages().at(-1); // the one that failed (closed ones are gone)
      if (page) await page.screenshot({ path: shot("failure"), fullPage: true }).catch(() => {});
      throw e;
    }
  } finally {
    if (context) await context.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
  }
}

main().then(
  () => {
    clearTimeout(watchdog);
    log("all checks passed");
    process.exit(0);
  },
  (e) => {
    console.error(`dashboard test FAILED: ${e instanceof Failure ? e.message : e.stack || e}`);
    process.exit(1);
  },
);
