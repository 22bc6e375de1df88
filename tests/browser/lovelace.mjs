// The generated Lovelace dashboard in Home Assistant's own frontend, in Debian's headless
// Chromium (playwright-core, no browser download).
//
//   node tests/browser/lovelace.mjs <ha-url> <access-token> <dashboard-path> <sections> <out-dir>
//
// tests/ha_e2e.rs runs this against a lab HA with `frontend:` loaded and the daemon's
// entities present. Logged in with the token (HA's frontend reads `hassTokens` from
// localStorage), it opens the dashboard at phone and desktop widths and checks that it
// rendered `<sections>` sections with a heading each and not one error card (HA draws
// `hui-error-card` for a card config it rejects or a card type it does not know), then
// saves `lovelace-phone.png` and `lovelace-desktop.png` in <out-dir>.
// Exits non-zero with a message on the first failure.

import { join } from "node:path";
import { chromium } from "playwright-core";

const [haUrl0, token, path, sections0, outDir] = process.argv.slice(2);
if (!haUrl0 || !token || !path || !sections0 || !outDir) {
  console.error("usage: node lovelace.mjs <ha-url> <access-token> <dashboard-path> <sections> <out-dir>");
  process.exit(2);
}
const haUrl = haUrl0.replace(/\/+$/, "");
const sections = Number(sections0);
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const WIDTHS = [
  { name: "phone", width: 412, height: 915 },
  { name: "desktop", width: 1600, height: 1000 },
];

const watchdog = setTimeout(() => {
  console.error("lovelace test FAILED: timed out after 150 s");
  process.exit(1);
}, 150_000);

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});
let failed = false;
try {
  for (const size of WIDTHS) {
    const context = await browser.newContext({
      viewport: { width: size.width, height: size.height },
      deviceScaleFactor: 1,
    });
    // The frontend's stored login: a long-lived token never needs refreshing.
    await context.addInitScript(
      ([url, access]) => {
        localStorage.setItem(
          "hassTokens",
          JSON.stringify({
            access_token: access,
            token_type: "Bearer",
            expires_in: 315360000,
            hassUrl: url,
            clientId: `${url}/`,
            expires: Date.now() + 315360000000,
            refresh_token: "",
          }),
        );
        localStorage.setItem("selectedTheme", JSON.stringify({ theme: "default", dark: false }));
      },
      [haUrl, token],
    );
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(`${haUrl}/${path}`, { waitUntil: "load" });
    // Playwright's CSS engine pierces HA's shadow roots.
    try {
      await page.locator("hui-section").first().waitFor({ timeout: 60_000 });
    } catch (e) {
      await page.screenshot({ path: join(outDir, `failed-${size.name}.png`) });
      throw new Error(`${size.name}: no section on ${page.url()} (see failed-${size.name}.png): ${e.message.split("\n")[0]}`);
    }
    await page.waitForFunction(
      (n) => {
        const count = (root) => {
          let found = 0;
          const walk = (node) => {
            if (node.tagName === "HUI-SECTION") found += 1;
            if (node.shadowRoot) [...node.shadowRoot.children].forEach(walk);
            [...node.children].forEach(walk);
          };
          walk(root);
          return found;
        };
        return count(document.documentElement) >= n;
      },
      sections,
      { timeout: 60_000 },
    );
    // Let the tiles and graphs load their states and history.
    await page.waitForTimeout(4000);
    const rendered = await page.locator("hui-section").count();
    const headings = await page.locator("hui-heading-card").count();
    const errorCards = await page.locator("hui-error-card").count();
    const errorText = errorCards
      ? await page.locator("hui-error-card").first().innerText()
      : "";
    console.log(
      `lovelace ${size.name}: ${rendered} sections, ${headings} headings, ${errorCards} error cards`,
    );
    if (rendered < sections) throw new Error(`${size.name}: ${rendered} of ${sections} sections rendered`);
    if (headings < sections) throw new Error(`${size.name}: ${headings} headings for ${sections} sections`);
    if (errorCards > 0) throw new Error(`${size.name}: ${errorCards} error cards, the first: ${errorText}`);
    await page.screenshot({ path: join(outDir, `lovelace-${size.name}.png`), fullPage: true });
    if (errors.length) console.log(`lovelace ${size.name}: page errors (not fatal): ${errors.join("; ")}`);
    await context.close();
  }
} catch (e) {
  failed = true;
  console.error(`lovelace test FAILED: ${e.message}`);
} finally {
  await browser.close();
  clearTimeout(watchdog);
}
process.exit(failed ? 1 : 0);
