// gitops-bridge dashboard. Plain ES2020, no framework and no build step: the file is
// embedded in the binary as it is. Every URL here is relative (no leading `/`, and the page
// has no `<base>`), so it resolves under whatever prefix the page was opened at: HA ingress,
// a reverse proxy's `/gitops/`, or `/` when opened directly. See src/web/ui.rs.
// Data only ever reaches the DOM through textContent and attributes, never innerHTML.
"use strict";

(() => {
  // ---------------------------------------------------------------------------------------
  // DOM helpers

  const SVG_NS = "http://www.w3.org/2000/svg";

  /** Only http(s) links; anything else (javascript:, data:) becomes no link at all. */
  function safeUrl(url) {
    if (typeof url !== "string") return null;
    try {
      const u = new URL(url, document.baseURI);
      return u.protocol === "http:" || u.protocol === "https:" ? u.href : null;
    } catch {
      return null;
    }
  }

  function setAttrs(node, attrs) {
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.setAttribute("class", v);
      else if (k === "text") node.textContent = String(v);
      else if (k === "dataset") Object.assign(node.dataset, v);
      else if (k.startsWith("on") && typeof v === "function") node.addEventListener(k.slice(2), v);
      else if (k === "href") {
        const href = safeUrl(v);
        if (href) node.setAttribute("href", href);
      } else node.setAttribute(k, v === true ? "" : String(v));
    }
    return node;
  }

  function append(node, children) {
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  /** `el("a", {href, class, text}, ...children)` */
  function el(tag, attrs, ...children) {
    return append(setAttrs(document.createElement(tag), attrs), children);
  }

  /** `replaceChildren` that skips null/false children (the DOM would print "null"). */
  function fill(node, ...children) {
    node.replaceChildren();
    return append(node, children);
  }

  function s(tag, attrs, ...children) {
    return append(setAttrs(document.createElementNS(SVG_NS, tag), attrs), children);
  }

  function externalLink(url, text, attrs = {}) {
    const href = safeUrl(url);
    if (!href) return el("span", attrs, text);
    return el("a", { ...attrs, href, target: "_blank", rel: "noopener noreferrer" }, text);
  }

  // ---------------------------------------------------------------------------------------
  // Formatting

  function fmtDuration(secs) {
    if (secs === null || secs === undefined || !isFinite(secs)) return "—";
    const t = Math.round(secs);
    if (t < 60) return `${t}s`;
    // "7m", "3m 32s", "1h", "14h 22m": a zero second unit is left out.
    const two = (a, ua, b, ub) => (b ? `${a}${ua} ${b}${ub}` : `${a}${ua}`);
    const m = Math.floor(t / 60);
    if (m < 60) return two(m, "m", t % 60, "s");
    const h = Math.floor(m / 60);
    if (h < 48) return two(h, "h", m % 60, "m");
    return two(Math.floor(h / 24), "d", h % 24, "h");
  }

  /** Short form for chart axes: 45s, 4m, 2h. */
  function fmtDurationShort(secs) {
    if (secs < 60) return `${Math.round(secs)}s`;
    if (secs < 3600) return `${Math.round(secs / 60)}m`;
    return `${Math.round(secs / 360) / 10}h`;
  }

  function fmtPercent(x) {
    if (x === null || x === undefined || !isFinite(x)) return "—";
    return `${Math.round(x)}%`;
  }

  function fmtAgo(iso) {
    if (!iso) return "—";
    const then = Date.parse(iso);
    if (!isFinite(then)) return "—";
    const secs = Math.max(0, (Date.now() - then) / 1000);
    if (secs < 10) return "just now";
    if (secs < 60) return `${Math.floor(secs)} s ago`;
    if (secs < 3600) return `${Math.floor(secs / 60)} min ago`;
    if (secs < 48 * 3600) return `${Math.floor(secs / 3600)} h ago`;
    if (secs < 60 * 86400) return `${Math.floor(secs / 86400)} days ago`;
    return new Date(then).toLocaleDateString();
  }

  function fmtDateTime(iso) {
    const t = Date.parse(iso);
    return isFinite(t) ? new Date(t).toLocaleString() : "";
  }

  /** A trend point's date (`2025-06-01`, a UTC day) as `Jun 1`. */
  function fmtDay(date, opts = { month: "short", day: "numeric" }) {
    const t = Date.parse(`${date}T00:00:00Z`);
    return isFinite(t) ? new Date(t).toLocaleDateString(undefined, { ...opts, timeZone: "UTC" }) : date;
  }

  /** A relative time that stays fresh: re-rendered every 30 s by `refreshTimes`. */
  function ago(iso) {
    return el("time", { datetime: iso || "", title: iso ? fmtDateTime(iso) : null, dataset: { ago: iso || "" } }, fmtAgo(iso));
  }

  function refreshTimes() {
    for (const t of document.querySelectorAll("time[data-ago]")) {
      const text = fmtAgo(t.dataset.ago);
      if (t.textContent !== text) t.textContent = text;
    }
    renderGithub();
  }

  // ---------------------------------------------------------------------------------------
  // Run states (docs/mqtt.md): how each looks

  const RUN_STATES = {
    success: ["ok", "✓", "Success"],
    failure: ["bad", "✗", "Failed"],
    startup_failure: ["bad", "✗", "Failed to start"],
    timed_out: ["bad", "⏱", "Timed out"],
    cancelled: ["muted", "⊘", "Cancelled"],
    skipped: ["muted", "↷", "Skipped"],
    neutral: ["muted", "○", "Neutral"],
    stale: ["muted", "○", "Stale"],
    action_required: ["warn", "!", "Action required"],
    in_progress: ["run", "●", "Running"],
    queued: ["run", "●", "Queued"],
    pending: ["run", "●", "Pending"],
    waiting: ["run", "●", "Waiting"],
    requested: ["run", "●", "Requested"],
    unknown: ["muted", "?", "Unknown"],
  };

  function runState(status) {
    const [tone, icon, label] = RUN_STATES[status] || RUN_STATES.unknown;
    return { tone, icon, label };
  }

  function statusIcon(status) {
    const st = runState(status);
    return el("span", { class: `run-icon tone-${st.tone}`, title: st.label, "aria-label": st.label, role: "img" }, st.icon);
  }

  const LEVELS = {
    healthy: "Healthy",
    warning: "Warning",
    critical: "Critical",
    unknown: "Unknown",
  };

  // ---------------------------------------------------------------------------------------
  // HTTP

  class HttpError extends Error {
    constructor(status, body, url) {
      super((body && (body.error || body.message)) || `HTTP ${status}`);
      this.status = status;
      this.body = body;
      this.url = url;
    }
  }

  async function getJSON(url) {
    let r;
    try {
      r = await fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" });
    } catch (e) {
      throw new HttpError(0, { error: "the bridge is not answering" }, url);
    }
    let body = null;
    try {
      body = await r.json();
    } catch {
      body = null;
    }
    if (!r.ok) throw new HttpError(r.status, body, url);
    return { status: r.status, body };
  }

  function repoPath(fullName) {
    const i = fullName.indexOf("/");
    return `${encodeURIComponent(fullName.slice(0, i))}/${encodeURIComponent(fullName.slice(i + 1))}`;
  }

  // ---------------------------------------------------------------------------------------
  // State

  const state = {
    repos: new Map(), // full_name → repository summary (api/repos shape)
    cards: new Map(), // full_name → Card
    github: null,
    generatedOffset: 0,
    loaded: false,
    snapshots: 0,
  };

  const TOKEN_KEY = "gitops-bridge.api-token";

  function storedToken() {
    try {
      return sessionStorage.getItem(TOKEN_KEY);
    } catch {
      return null;
    }
  }

  function storeToken(token) {
    try {
      if (token) sessionStorage.setItem(TOKEN_KEY, token);
      else sessionStorage.removeItem(TOKEN_KEY);
    } catch {
      /* storage off: the token lives only until the next page load */
    }
    memoryToken = token || null;
  }

  let memoryToken = null;
  const currentToken = () => storedToken() || memoryToken;

  // ---------------------------------------------------------------------------------------
  // Header: GitHub status, rate limit, last poll, live indicator

  function renderGithub() {
    const g = state.github;
    const pill = document.getElementById("github-status");
    const rate = document.getElementById("rate-limit");
    const poll = document.getElementById("last-poll");
    if (!g) return;
    if (g.reachable) {
      pill.className = "pill tone-ok";
      pill.textContent = "GitHub reachable";
      pill.title = "";
    } else {
      pill.className = "pill tone-bad";
      pill.textContent = g.error ? "GitHub problem" : "GitHub not reached yet";
      pill.title = g.error || "";
    }
    if (g.rate_limit) {
      const { remaining, limit, reset } = g.rate_limit;
      rate.hidden = false;
      rate.textContent = `${remaining.toLocaleString()} / ${limit.toLocaleString()} API calls left`;
      rate.title = `Rate limit resets ${fmtDateTime(reset)}`;
      rate.classList.toggle("tone-warn", remaining < limit * 0.1);
    } else rate.hidden = true;
    if (g.last_poll) {
      poll.hidden = false;
      poll.textContent = `polled ${fmtAgo(g.last_poll)}`;
      poll.title = fmtDateTime(g.last_poll);
    } else poll.hidden = true;
    const banner = document.getElementById("banner");
    if (!g.reachable && g.error && !banner.dataset.kind) {
      showBanner(`GitHub: ${g.error}`, "github");
    } else if ((g.reachable || !g.error) && banner.dataset.kind === "github") {
      hideBanner();
    }
  }

  function setLive(status, text) {
    const live = document.getElementById("live");
    live.dataset.state = status;
    live.querySelector(".live-text").textContent = text;
    live.title = status === "live" ? "Live: updates arrive as they happen" : text;
  }

  function showBanner(text, kind, retry) {
    const banner = document.getElementById("banner");
    banner.dataset.kind = kind;
    fill(banner, el("span", null, text));
    if (retry) banner.append(el("button", { type: "button", class: "link", onclick: retry }, "Retry now"));
    banner.hidden = false;
  }

  function hideBanner(kind) {
    const banner = document.getElementById("banner");
    if (kind && banner.dataset.kind !== kind) return;
    banner.hidden = true;
    delete banner.dataset.kind;
    fill(banner);
  }

  function renderSummary() {
    const box = document.getElementById("summary");
    const repos = [...state.repos.values()];
    if (!repos.length) {
      box.hidden = true;
      return;
    }
    const count = (pred) => repos.filter(pred).length;
    const failing = count((r) => r.health && r.health.failing);
    const running = count((r) => r.health && r.health.running);
    const levels = ["critical", "warning", "healthy", "unknown"].map((l) => [l, count((r) => r.health && r.health.level === l)]);
    fill(box, 
      el("span", { class: "sum-item" }, el("strong", null, String(repos.length)), repos.length === 1 ? " repository" : " repositories"),
      ...levels.filter(([, n]) => n).map(([l, n]) => el("span", { class: `sum-item level-${l}` }, el("span", { class: "sum-dot", "aria-hidden": "true" }), `${n} ${LEVELS[l].toLowerCase()}`)),
      failing ? el("span", { class: "sum-item tone-bad" }, `${failing} failing`) : null,
      running ? el("span", { class: "sum-item tone-run" }, `${running} running`) : null,
    );
    box.hidden = false;
  }

  // ---------------------------------------------------------------------------------------
  // Charts: hand-drawn SVG at the container's real width, so text stays its real size

  const chartObserver = new ResizeObserver((entries) => {
    for (const e of entries) {
      const box = e.target;
      const w = Math.round(e.contentRect.width);
      if (box._draw && Math.abs(w - (box._width || 0)) > 4) {
        box._width = w;
        fill(box, box._draw(w));
      }
    }
  });

  function chartBox(draw, cls) {
    const box = el("div", { class: `chart-box ${cls}` });
    box._draw = draw;
    box._width = 0;
    chartObserver.observe(box);
    // A first drawing before layout, replaced when the real width is known.
    box.append(draw(300));
    return box;
  }

  const CH = { h: 110, top: 8, bottom: 20, left: 34, right: 6 };

  function axes(width, ticks) {
    const g = s("g", { class: "axes" });
    const plotH = CH.h - CH.top - CH.bottom;
    for (const [frac, label] of ticks) {
      const y = CH.top + plotH * (1 - frac);
      g.append(
        s("line", { x1: CH.left, x2: width - CH.right, y1: y, y2: y, class: frac === 0 ? "baseline" : "grid" }),
        s("text", { x: CH.left - 4, y: y + 3, "text-anchor": "end" }, label),
      );
    }
    return g;
  }

  function xLabels(trend, width, step) {
    const g = s("g", { class: "xlabels" });
    const n = trend.length;
    const plotW = width - CH.left - CH.right;
    const show = n <= 1 ? [0] : [0, n - 1];
    if (n > 4 && plotW > 260) show.splice(1, 0, Math.floor((n - 1) / 2));
    for (const i of show) {
      const x = CH.left + step * (i + 0.5);
      const anchor = i === 0 ? "start" : i === n - 1 ? "end" : "middle";
      const ax = i === 0 ? CH.left : i === n - 1 ? width - CH.right : x;
      g.append(s("text", { x: ax, y: CH.h - 5, "text-anchor": anchor }, fmtDay(trend[i].date)));
    }
    return g;
  }

  function rateTone(rate) {
    if (rate >= 90) return "ok";
    if (rate >= 70) return "warn";
    return "bad";
  }

  function successChart(trend) {
    return (width) => {
      const n = Math.max(trend.length, 1);
      const plotW = width - CH.left - CH.right;
      const plotH = CH.h - CH.top - CH.bottom;
      const step = plotW / n;
      const barW = Math.max(2, Math.min(28, step * 0.68));
      const withRuns = trend.filter((p) => p.success_rate !== null && p.success_rate !== undefined);
      const label = withRuns.length
        ? `Success rate per day: ${trend.map((p) => `${fmtDay(p.date)} ${p.success_rate === null ? "no runs" : fmtPercent(p.success_rate)}`).join(", ")}`
        : "Success rate per day: no finished runs in the window";
      const svg = s("svg", { class: "chart", width, height: CH.h, viewBox: `0 0 ${width} ${CH.h}`, role: "img", "aria-label": label });
      svg.append(s("title", null, label), axes(width, [[0, "0"], [0.5, "50%"], [1, "100%"]]));
      trend.forEach((p, i) => {
        const x = CH.left + step * i + (step - barW) / 2;
        const runs = `${p.runs} run${p.runs === 1 ? "" : "s"}`;
        if (p.success_rate === null || p.success_rate === undefined) {
          svg.append(
            s("rect", { x, y: CH.top + plotH - 2, width: barW, height: 2, class: "bar none" },
              s("title", null, `${fmtDay(p.date, { weekday: "short", month: "short", day: "numeric" })}: ${p.runs ? `${runs}, none passed or failed` : "no runs"}`)),
          );
          return;
        }
        const hgt = Math.max(3, (plotH * p.success_rate) / 100);
        svg.append(
          s("rect", { x, y: CH.top + plotH - hgt, width: barW, height: hgt, rx: Math.min(3, barW / 4), class: `bar tone-${rateTone(p.success_rate)}` },
            s("title", null, `${fmtDay(p.date, { weekday: "short", month: "short", day: "numeric" })}: ${fmtPercent(p.success_rate)} — ${runs}, ${p.passed} passed, ${p.failed} failed`)),
        );
      });
      svg.append(xLabels(trend, width, step));
      if (!withRuns.length) {
        svg.append(s("text", { x: CH.left + plotW / 2, y: CH.top + plotH / 2, "text-anchor": "middle", class: "empty" }, "no finished runs"));
      }
      return svg;
    };
  }

  /** A round axis maximum above `max` seconds, whose half is round too (the middle tick). */
  function niceMax(max) {
    const steps = [30, 60, 120, 240, 600, 1200, 1800, 3600, 7200, 14400, 28800, 43200, 86400];
    for (const v of steps) if (max <= v) return v;
    return Math.ceil(max / 86400) * 86400;
  }

  function durationChart(trend) {
    return (width) => {
      const n = Math.max(trend.length, 1);
      const plotW = width - CH.left - CH.right;
      const plotH = CH.h - CH.top - CH.bottom;
      const step = plotW / n;
      const pts = trend.map((p, i) => ({ p, i, v: p.duration_p50_s })).filter((q) => q.v !== null && q.v !== undefined);
      const max = niceMax(Math.max(1, ...pts.map((q) => q.v)));
      const label = pts.length
        ? `Median duration per day: ${pts.map((q) => `${fmtDay(q.p.date)} ${fmtDuration(q.v)}`).join(", ")}`
        : "Median duration per day: no finished runs in the window";
      const svg = s("svg", { class: "chart", width, height: CH.h, viewBox: `0 0 ${width} ${CH.h}`, role: "img", "aria-label": label });
      svg.append(s("title", null, label), axes(width, [[0, "0"], [0.5, fmtDurationShort(max / 2)], [1, fmtDurationShort(max)]]));
      const xy = (q) => [CH.left + step * (q.i + 0.5), CH.top + plotH * (1 - q.v / max)];
      // Consecutive days are joined; a day without runs breaks the line.
      let d = "";
      let area = "";
      let run = [];
      const flush = () => {
        if (run.length > 1) {
          d += run.map((q, k) => `${k ? "L" : "M"}${xy(q).map((c) => c.toFixed(1)).join(" ")}`).join("");
          const [x0] = xy(run[0]);
          const [x1] = xy(run[run.length - 1]);
          area += `M${x0.toFixed(1)} ${CH.top + plotH}` + run.map((q) => `L${xy(q).map((c) => c.toFixed(1)).join(" ")}`).join("") + `L${x1.toFixed(1)} ${CH.top + plotH}Z`;
        }
        run = [];
      };
      for (const q of pts) {
        if (run.length && q.i !== run[run.length - 1].i + 1) flush();
        run.push(q);
      }
      flush();
      if (area) svg.append(s("path", { d: area, class: "area" }));
      if (d) svg.append(s("path", { d, class: "line" }));
      for (const q of pts) {
        const [x, y] = xy(q);
        svg.append(
          s("circle", { cx: x, cy: y, r: 3.2, class: "point" },
            s("title", null, `${fmtDay(q.p.date, { weekday: "short", month: "short", day: "numeric" })}: median ${fmtDuration(q.v)} over ${q.p.passed + q.p.failed} finished run${q.p.passed + q.p.failed === 1 ? "" : "s"}`)),
        );
      }
      svg.append(xLabels(trend, width, step));
      if (!pts.length) {
        svg.append(s("text", { x: CH.left + plotW / 2, y: CH.top + plotH / 2, "text-anchor": "middle", class: "empty" }, "no finished runs"));
      }
      return svg;
    };
  }

  // ---------------------------------------------------------------------------------------
  // Commands

  function requestId() {
    const bytes = new Uint8Array(6);
    crypto.getRandomValues(bytes);
    return `ui-${Date.now().toString(36)}-${[...bytes].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
  }

  // The API labels the buttons as Home Assistant does (from the actions' own metadata).
  function actionButtons(repo) {
    return (repo.buttons || []).map((b) =>
      actionButton(repo.full_name, b.action, b.label, b.symbol, b.hint, b.params || {}, b.confirm));
  }

  function actionButton(fullName, action, label, icon, hint, body, confirmText) {
    const btn = el("button", {
      type: "button",
      class: `action action-${action}`,
      title: hint,
      "aria-label": `${label} (${fullName})`,
      dataset: { action, workflow: body.workflow || "" },
    }, el("span", { class: "action-icon", "aria-hidden": "true" }, icon), el("span", { class: "action-label" }, label));
    let armed = null;
    btn.addEventListener("click", () => {
      if (btn.disabled) return;
      if (confirmText && !armed) {
        // Two steps for what cannot be undone: the first press asks, the second acts.
        btn.classList.add("armed");
        btn.querySelector(".action-label").textContent = confirmText;
        armed = setTimeout(() => {
          armed = null;
          btn.classList.remove("armed");
          btn.querySelector(".action-label").textContent = label;
        }, 4000);
        return;
      }
      if (armed) {
        clearTimeout(armed);
        armed = null;
        btn.classList.remove("armed");
        btn.querySelector(".action-label").textContent = label;
      }
      runCommand(fullName, action, label, { ...body, request_id: requestId() }, btn);
    });
    return btn;
  }

  async function runCommand(fullName, action, label, body, btn) {
    const card = state.cards.get(fullName);
    const token = currentToken();
    btn.disabled = true;
    btn.setAttribute("aria-busy", "true");
    card && card.setResult("pending", `${label}…`);
    let status = 0;
    let result = null;
    try {
      const headers = { "Content-Type": "application/json", Accept: "application/json" };
      if (token) headers.Authorization = `Bearer ${token}`;
      const r = await fetch(`api/repos/${repoPath(fullName)}/commands/${encodeURIComponent(action)}`, {
        method: "POST",
        headers,
        body: JSON.stringify(body),
      });
      status = r.status;
      try {
        result = await r.json();
      } catch {
        result = null;
      }
    } catch {
      status = 0;
    } finally {
      btn.disabled = false;
      btn.removeAttribute("aria-busy");
    }
    const name = fullName.split("/")[1] || fullName;
    if (status === 401) {
      // Outside HA ingress commands need `http.api_token`: ask once, keep it for this tab.
      const refused = Boolean(token);
      if (refused) storeToken(null);
      card && card.setResult(null, "");
      card && card.askToken(refused, () => runCommand(fullName, action, label, body, btn));
      return;
    }
    if (status === 0) {
      const msg = `${label} on ${name}: the bridge is not answering`;
      card && card.setResult("bad", msg);
      toast("bad", msg);
      return;
    }
    if (status === 403) {
      const msg = `${label} on ${name} refused: ${(result && result.error) || "forbidden"}`;
      card && card.setResult("bad", msg);
      toast("bad", msg);
      return;
    }
    const ok = Boolean(result && result.ok);
    const message = (result && (result.message || result.error)) || `HTTP ${status}`;
    const text = ok ? `${name}: ${message}` : `${label} on ${name} failed: ${message}`;
    card && card.setResult(ok ? "ok" : "bad", text, result && result.url);
    toast(ok ? "ok" : "bad", text, result && result.url);
    if (ok) scheduleDetails(fullName, 1500);
  }

  function toast(tone, text, url) {
    const box = document.getElementById("toasts");
    const t = el("div", { class: `toast tone-${tone} ${tone}` },
      el("span", { class: "toast-icon", "aria-hidden": "true" }, tone === "ok" ? "✓" : "✗"),
      el("span", { class: "toast-text" }, text),
      safeUrl(url) ? externalLink(url, "Open run", { class: "toast-link" }) : null,
      el("button", { type: "button", class: "toast-close", "aria-label": "Dismiss", onclick: () => t.remove() }, "×"),
    );
    box.append(t);
    setTimeout(() => t.remove(), tone === "ok" ? 8000 : 15000);
  }

  // ---------------------------------------------------------------------------------------
  // Repository cards

  class Card {
    constructor(repo) {
      this.name = repo.full_name;
      this.actionsKey = null;
      this.detailsLoaded = false;
      this.root = el("article", { class: "card", dataset: { repo: repo.full_name }, "aria-labelledby": `t-${cssId(repo.full_name)}` });
      this.title = el("h2", { class: "card-title", id: `t-${cssId(repo.full_name)}` });
      this.badge = el("span", { class: "badge health" });
      this.flags = el("div", { class: "flags" });
      this.unavailable = el("p", { class: "unavailable", role: "note" });
      this.lastRun = el("div", { class: "last-run" });
      this.stats = el("dl", { class: "stats" });
      this.charts = el("div", { class: "charts" }, el("p", { class: "muted small" }, "Loading trends…"));
      this.trendsPeriod = el("span", { class: "muted" });
      this.history = el("div", { class: "history" });
      this.actions = el("div", { class: "actions", role: "group", "aria-label": `Actions for ${repo.full_name}` });
      this.result = el("p", { class: "action-result", role: "status", "aria-live": "polite" });
      this.tokenSlot = el("div", { class: "token-slot" });
      this.actionBox = el("div", { class: "action-box" }, this.actions, this.tokenSlot, this.result);
      this.root.append(
        el("header", { class: "card-head" }, this.title, this.badge),
        this.flags,
        this.unavailable,
        this.lastRun,
        this.stats,
        el("section", { class: "trends", "aria-label": "Trends" }, el("h3", null, "Trends", this.trendsPeriod), this.charts),
        el("section", { class: "recent", "aria-label": "Recent runs" }, el("h3", null, "Recent runs"), this.history),
        this.actionBox,
      );
      this.update(repo);
    }

    update(repo) {
      const h = repo.health || {};
      const level = h.level || "unknown";
      this.root.dataset.level = level;
      this.root.classList.toggle("is-unavailable", !repo.available);
      const [owner, name] = splitName(repo.full_name);
      fill(this.title, 
        externalLink(repo.html_url, [el("span", { class: "owner" }, `${owner}/`), el("span", { class: "name" }, name)], { class: "repo-link", title: `Open ${repo.full_name} on GitHub` }),
      );
      this.badge.className = `badge health level-${level}`;
      fill(this.badge, 
        el("span", { class: "badge-label" }, LEVELS[level] || level),
        h.score !== null && h.score !== undefined ? el("span", { class: "badge-score" }, String(h.score)) : null,
      );
      this.badge.title = h.score !== null && h.score !== undefined ? `Health score ${h.score} of 100` : "No finished run in the window";
      fill(this.flags, 
        h.failing ? el("span", { class: "chip failing tone-bad" }, "✗ failing") : null,
        h.running ? el("span", { class: "chip running tone-run" }, el("span", { class: "pulse", "aria-hidden": "true" }), "running") : null,
        h.failure_streak > 1 ? el("span", { class: "chip tone-bad" }, `${h.failure_streak} failures in a row`) : null,
        el("span", { class: "chip muted branch-chip", title: "Default branch" }, el("span", { "aria-hidden": "true" }, "⎇ "), repo.default_branch || "—"),
      );
      this.unavailable.hidden = repo.available !== false;
      this.unavailable.textContent = repo.available === false ? `Unavailable: ${repo.unavailable_reason || "GitHub does not show it"}` : "";

      this.renderLastRun(repo.last_run);
      fill(this.stats, 
        stat("Success", fmtPercent(h.success_rate), h.runs_in_window !== undefined ? `${h.runs_in_window} run${h.runs_in_window === 1 ? "" : "s"}` : "", h.success_rate !== null && h.success_rate !== undefined ? `tone-${rateTone(h.success_rate)}` : ""),
        stat("Median", fmtDuration(h.duration_p50_s), h.duration_p95_s ? `p95 ${fmtDuration(h.duration_p95_s)}` : ""),
        stat("MTTR", fmtDuration(h.mttr_s), "to recover"),
        stat("Streak", String(h.failure_streak || 0), h.failure_streak === 1 ? "failure" : "failures", h.failure_streak ? "tone-bad" : ""),
      );

      const key = JSON.stringify([repo.actions, repo.dispatch]);
      if (key !== this.actionsKey) {
        this.actionsKey = key;
        const buttons = actionButtons(repo);
        fill(this.actions, ...buttons);
        this.actionBox.hidden = !buttons.length;
      }
    }

    renderLastRun(run) {
      if (!run) {
        fill(this.lastRun, el("p", { class: "muted" }, "No runs yet"));
        return;
      }
      const st = runState(run.status);
      const duration = run.duration_s !== null && run.duration_s !== undefined ? fmtDuration(run.duration_s) : null;
      const running = st.tone === "run";
      this.lastRun.dataset.status = run.status;
      fill(this.lastRun, 
        el("div", { class: `run-status tone-${st.tone}` },
          el("span", { class: "run-status-icon", "aria-hidden": "true" }, st.icon),
          el("span", { class: "run-status-label" }, st.label),
          externalLink(run.url, "Open run ↗", { class: "run-link", title: `Open run #${run.run_number} on GitHub` }),
        ),
        el("p", { class: "run-title", title: run.title || "" }, run.title || run.workflow),
        el("p", { class: "run-meta" },
          el("span", { class: "wf" }, `${run.workflow} #${run.run_number}`),
          run.attempt > 1 ? el("span", null, ` · attempt ${run.attempt}`) : null,
          run.branch ? [" · ", el("span", { class: "branch" }, run.branch)] : null,
          " · ", ago(run.created_at),
          duration ? ` · ${running ? "running for " : ""}${duration}` : null,
          run.actor ? el("span", { class: "muted" }, ` · ${run.actor}`) : null,
        ),
        run.failed_jobs && run.failed_jobs.length ? el("p", { class: "failed-jobs" }, "Failed jobs: ", run.failed_jobs.join(", ")) : null,
      );
    }

    renderDetails(status, history) {
      const trend = (status && status.trend) || [];
      const windowS = (status && status.window_s) || 0;
      const days = Math.round(windowS / 86400);
      this.trendsPeriod.textContent = days >= 2 ? ` · last ${days} days, per day` : windowS ? ` · last ${Math.round(windowS / 3600)} h, per day` : "";
      fill(this.charts,
        el("figure", { class: "chart-fig" },
          el("figcaption", null, "Success rate"),
          chartBox(successChart(trend), "success")),
        el("figure", { class: "chart-fig" },
          el("figcaption", null, "Median duration"),
          chartBox(durationChart(trend), "duration")),
      );
      const runs = (history && history.runs) || [];
      if (!runs.length) {
        fill(this.history, el("p", { class: "muted small" }, "No runs recorded yet"));
      } else {
        fill(this.history, 
          el("ol", { class: "runs" }, ...runs.map((r) =>
            el("li", { class: "run-row", dataset: { status: r.status } },
              statusIcon(r.status),
              el("span", { class: "run-row-main" },
                externalLink(r.url, `${r.workflow} #${r.run_number}`, { class: "run-row-wf" }),
                el("span", { class: "run-row-title", title: r.title || "" }, r.title || ""),
              ),
              el("span", { class: "run-row-side" },
                r.branch && r.branch !== (state.repos.get(this.name) || {}).default_branch ? el("span", { class: "chip tiny muted run-branch", title: `Branch ${r.branch}` }, r.branch) : null,
                ago(r.created_at),
                el("span", { class: "muted" }, r.duration_s !== null && r.duration_s !== undefined ? fmtDuration(r.duration_s) : ""),
              ),
            ))),
          history.total > runs.length ? el("p", { class: "muted small more" }, `${history.total - runs.length} more in the store`) : null,
        );
      }
      this.detailsLoaded = true;
      this.root.dataset.details = "loaded";
    }

    detailsError(err, retry) {
      const msg = err.status === 404
        ? `${this.name} is not watched any more (404)`
        : `Could not load trends and runs: ${err.message}${err.status ? ` (HTTP ${err.status})` : ""}`;
      const box = el("div", { class: "details-error", role: "alert" }, el("span", null, msg));
      if (err.status !== 404) box.append(" ", el("button", { type: "button", class: "link", onclick: retry }, "Retry"));
      fill(this.charts, box);
      fill(this.history);
      this.root.dataset.details = "error";
    }

    setResult(tone, text, url) {
      this.result.className = `action-result${tone ? ` tone-${tone}` : ""}`;
      fill(this.result, text ? el("span", null, text) : "", safeUrl(url) ? [" ", externalLink(url, "Open run ↗")] : "");
    }

    askToken(refused, retry) {
      const input = el("input", { type: "password", name: "token", autocomplete: "off", required: true, spellcheck: "false", "aria-describedby": `th-${cssId(this.name)}` });
      const form = el("form", { class: "token-form", "aria-label": "API token" },
        el("p", { id: `th-${cssId(this.name)}`, class: "small" },
          refused ? "The bridge refused that token. " : "",
          "Outside Home Assistant, commands need the bridge's API token (",
          el("code", null, "http.api_token"),
          "). It is kept in this browser tab only."),
        el("div", { class: "token-row" },
          el("label", null, el("span", { class: "sr-only" }, "API token"), input),
          el("button", { type: "submit", class: "primary" }, "Send"),
          el("button", { type: "button", class: "link", onclick: () => fill(this.tokenSlot) }, "Cancel"),
        ),
      );
      form.addEventListener("submit", (e) => {
        e.preventDefault();
        const value = input.value.trim();
        if (!value) return;
        storeToken(value);
        fill(this.tokenSlot);
        retry();
      });
      fill(this.tokenSlot, form);
      input.focus();
    }
  }

  function stat(label, value, sub, cls) {
    return el("div", { class: `stat ${cls || ""}` },
      el("dt", null, label),
      el("dd", null, el("span", { class: "stat-value" }, value), sub ? el("span", { class: "stat-sub" }, sub) : null),
    );
  }

  function splitName(full) {
    const i = full.indexOf("/");
    return i < 0 ? ["", full] : [full.slice(0, i), full.slice(i + 1)];
  }

  function cssId(s) {
    return s.replace(/[^A-Za-z0-9_-]/g, "_");
  }

  // ---------------------------------------------------------------------------------------
  // Loading and syncing

  const detailTimers = new Map();

  function scheduleDetails(fullName, delay = 300) {
    clearTimeout(detailTimers.get(fullName));
    detailTimers.set(fullName, setTimeout(() => {
      detailTimers.delete(fullName);
      loadDetails(fullName);
    }, delay));
  }

  async function loadDetails(fullName) {
    const card = state.cards.get(fullName);
    if (!card) return;
    const path = repoPath(fullName);
    try {
      const [status, history] = await Promise.all([
        getJSON(`api/workflow-status/${path}`),
        getJSON(`api/workflow-history/${path}?per_page=5`),
      ]);
      if (state.cards.get(fullName) === card) card.renderDetails(status.body, history.body);
    } catch (err) {
      if (state.cards.get(fullName) === card) card.detailsError(err, () => loadDetails(fullName));
    }
  }

  /** Makes the cards match `repositories`, in their order, keeping existing cards. */
  function sync(repositories) {
    const list = document.getElementById("repos");
    const seen = new Set();
    const wanted = [];
    for (const repo of repositories) {
      seen.add(repo.full_name);
      state.repos.set(repo.full_name, repo);
      let card = state.cards.get(repo.full_name);
      if (card) card.update(repo);
      else {
        card = new Card(repo);
        state.cards.set(repo.full_name, card);
        scheduleDetails(repo.full_name, 0);
      }
      wanted.push(card.root);
    }
    for (const name of [...state.cards.keys()]) {
      if (!seen.has(name)) removeRepo(name);
    }
    const current = [...list.children].filter((c) => c.classList.contains("card"));
    if (current.length !== wanted.length || current.some((c, i) => c !== wanted[i])) {
      fill(list, ...wanted);
    }
    if (!wanted.length) {
      fill(list, el("div", { class: "empty-state" },
        el("h2", null, "No repositories yet"),
        el("p", null, "Add repositories under ", el("code", null, "github.repositories"), " in the add-on's settings. The bridge lists them here after its next discovery pass.")));
    }
    list.setAttribute("aria-busy", "false");
    renderSummary();
  }

  function removeRepo(name) {
    const card = state.cards.get(name);
    if (card) card.root.remove();
    state.cards.delete(name);
    state.repos.delete(name);
  }

  let retryTimer = null;

  async function loadRepos() {
    clearTimeout(retryTimer);
    try {
      const { body } = await getJSON("api/repos");
      hideBanner("api");
      state.github = body.github;
      renderGithub();
      sync(body.repositories || []);
      state.loaded = true;
      document.body.dataset.loaded = "true";
    } catch (err) {
      const msg = err.status
        ? `The bridge's API answered HTTP ${err.status}${err.message && err.message !== `HTTP ${err.status}` ? `: ${err.message}` : ""}.`
        : "The bridge's API is not answering.";
      showBanner(`${msg} Trying again in 10 s…`, "api", () => loadRepos());
      const list = document.getElementById("repos");
      if (!state.loaded) fill(list, el("p", { class: "muted" }, "Waiting for the bridge…"));
      retryTimer = setTimeout(loadRepos, 10000);
    }
  }

  // ---------------------------------------------------------------------------------------
  // The event stream

  let source = null;
  let reopenTimer = null;

  function parse(e) {
    try {
      return JSON.parse(e.data);
    } catch {
      return null;
    }
  }

  function connect() {
    clearTimeout(reopenTimer);
    if (source) source.close();
    setLive("connecting", "connecting");
    source = new EventSource("api/events");
    source.addEventListener("open", () => setLive("live", "live"));
    source.addEventListener("error", () => {
      if (source.readyState === EventSource.CLOSED) {
        // The browser gave up (an error status, e.g. while the add-on restarts): try again.
        setLive("down", "reconnecting");
        reopenTimer = setTimeout(connect, 5000);
      } else setLive("down", "reconnecting");
    });
    source.addEventListener("snapshot", (e) => {
      const data = parse(e);
      if (!data) return;
      setLive("live", "live");
      state.snapshots += 1;
      if (data.github) {
        state.github = data.github;
        renderGithub();
      }
      hideBanner("api");
      sync(data.repositories || []);
      state.loaded = true;
      document.body.dataset.loaded = "true";
      // After a reconnect runs may have finished unseen: refresh every card's trends.
      if (state.snapshots > 1) for (const name of state.cards.keys()) scheduleDetails(name, 500);
    });
    source.addEventListener("repo", (e) => {
      const repo = parse(e);
      if (!repo || !repo.full_name) return;
      const before = state.repos.get(repo.full_name);
      state.repos.set(repo.full_name, repo);
      const card = state.cards.get(repo.full_name);
      if (card) {
        card.update(repo);
        // Trends and recent runs change when a run starts, ends or is re-run.
        const key = (r) => {
          if (!r) return "";
          const run = r.last_run || {};
          const h = r.health || {};
          return `${run.id}/${run.attempt}/${run.status}/${h.running}/${h.runs_in_window}/${h.failing}`;
        };
        if (key(before) !== key(repo)) scheduleDetails(repo.full_name, 800);
      } else sync([...state.repos.values()]);
      renderSummary();
    });
    source.addEventListener("run", (e) => {
      const data = parse(e);
      if (data && data.repository) scheduleDetails(data.repository, 300);
    });
    source.addEventListener("removed", (e) => {
      const data = parse(e);
      if (!data || !data.full_name) return;
      removeRepo(data.full_name);
      sync([...state.repos.values()]);
    });
    source.addEventListener("github", (e) => {
      const data = parse(e);
      if (!data) return;
      state.github = data;
      renderGithub();
    });
  }

  // ---------------------------------------------------------------------------------------
  // The Home Assistant configuration check (when `validate.path` is set)

  let validationTimer = null;

  async function loadValidation() {
    clearTimeout(validationTimer);
    const box = document.getElementById("validation");
    let r;
    try {
      r = await fetch("api/validation", { headers: { Accept: "application/json" }, cache: "no-store" });
    } catch {
      validationTimer = setTimeout(loadValidation, 60000);
      return;
    }
    if (r.status === 404) {
      box.hidden = true;
      return;
    }
    let report = null;
    try {
      report = await r.json();
    } catch {
      report = null;
    }
    if (r.status === 202 || !report || !report.summary) {
      fill(box, el("p", null, el("strong", null, "Home Assistant config check: "), "running…"));
      box.className = "validation tone-run";
      box.hidden = false;
      validationTimer = setTimeout(loadValidation, 5000);
      return;
    }
    const sum = report.summary;
    const tone = sum.errors ? "bad" : sum.warnings ? "warn" : "ok";
    const parts = [];
    if (sum.errors) parts.push(`${sum.errors} error${sum.errors === 1 ? "" : "s"}`);
    if (sum.warnings) parts.push(`${sum.warnings} warning${sum.warnings === 1 ? "" : "s"}`);
    if (sum.info) parts.push(`${sum.info} note${sum.info === 1 ? "" : "s"}`);
    const headline = parts.length ? parts.join(" · ") : "no problems";
    const diags = report.diagnostics || [];
    const children = [
      el("p", { class: "validation-head" },
        el("span", { class: `run-icon tone-${tone}`, "aria-hidden": "true" }, tone === "ok" ? "✓" : tone === "warn" ? "!" : "✗"),
        el("strong", null, "Home Assistant config check: "),
        headline,
        el("span", { class: "muted" }, ` — ${sum.files} files, ${sum.templates} templates checked`)),
    ];
    if (diags.length) {
      const shown = diags.slice(0, 50);
      children.push(el("details", null,
        el("summary", null, `Show ${diags.length === 1 ? "the finding" : `${diags.length} findings`}`),
        el("ul", { class: "diags" }, ...shown.map((d) =>
          el("li", { class: `diag sev-${d.severity}` },
            el("span", { class: "diag-sev" }, d.severity),
            el("code", null, `${d.file}${d.line ? `:${d.line}` : ""}${d.column ? `:${d.column}` : ""}`),
            el("span", null, ` ${d.message}`),
            d.hint ? el("span", { class: "muted" }, ` — ${d.hint}`) : null,
            el("span", { class: "muted small" }, ` (${d.code})`)))),
        diags.length > shown.length ? el("p", { class: "muted small" }, `…and ${diags.length - shown.length} more`) : null));
    }
    fill(box, ...children);
    box.className = `validation tone-${tone}`;
    box.hidden = false;
    validationTimer = setTimeout(loadValidation, 5 * 60000);
  }

  // ---------------------------------------------------------------------------------------

  function start() {
    loadRepos().then(connect);
    loadValidation();
    setInterval(refreshTimes, 30000);
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden) refreshTimes();
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
