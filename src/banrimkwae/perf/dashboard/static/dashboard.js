// The performance dashboard: reads only /api/admin/* with the operator's API key.
// Every value from the API is written with textContent, never as HTML.
"use strict";

const KEY_STORE = "banrimkwae.apiKey";
const REFRESH_MS = 30000;
const PLOT_CONFIG = { displaylogo: false, responsive: true };
// Health thresholds: [good up to, warning up to]; above is critical. Lower is better.
const KPIS = [
  { id: "avg_response_time_ms", label: "Average response time", unit: "ms", good: 200, warn: 500 },
  { id: "p95_response_time_ms", label: "p95 response time", unit: "ms", good: 500, warn: 1000 },
  { id: "cache_hit_rate", label: "Cache hit rate", unit: "%", good: 80, warn: 50, higherIsBetter: true },
  { id: "total_requests", label: "Total requests", unit: "" },
  { id: "avg_db_time_ms_per_request", label: "Database time per request", unit: "ms", good: 50, warn: 200 },
];
const HEALTH_TEXT = { good: "Healthy", warn: "Warning", bad: "Critical", none: "No data" };

const state = { key: null, period: "24h", timer: null, live: null, report: null, alertTimer: null, alertsSeen: undefined };
const $ = (id) => document.getElementById(id);

// ---- API ------------------------------------------------------------------------------

async function api(path, options = {}) {
  const headers = { Accept: "application/json", Authorization: `Bearer ${state.key}` };
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method: options.method || "GET",
    headers,
    body: options.body !== undefined ? JSON.stringify(options.body) : undefined,
    cache: "no-store",
  });
  let body = null;
  const type = response.headers.get("content-type") || "";
  if (type.includes("json")) body = await response.json();
  if (response.status === 401 && !options.quiet401) signOut("The API key was refused; sign in again.");
  return { status: response.status, ok: response.ok, body };
}

function rows(body) {
  if (Array.isArray(body)) return body;
  if (body && Array.isArray(body.data)) return body.data;
  return body ? [body] : [];
}

// ---- formatting and DOM helpers --------------------------------------------------------

function formatNumber(value, unit) {
  if (value === null || value === undefined) return "–";
  if (unit === "") return Math.round(value).toLocaleString("en-US");
  if (value > 0 && value < 0.01) return `< 0.01 ${unit}`;
  const text = value.toLocaleString("en-US", { maximumFractionDigits: value < 10 ? 2 : 1 });
  return unit === "%" ? `${text} %` : `${text} ${unit}`;
}

function health(kpi, value) {
  if (value === null || value === undefined || kpi.good === undefined) return "none";
  if (kpi.higherIsBetter) return value >= kpi.good ? "good" : value >= kpi.warn ? "warn" : "bad";
  return value <= kpi.good ? "good" : value <= kpi.warn ? "warn" : "bad";
}

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "className") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value);
  }
  for (const child of children) {
    node.append(child instanceof Node ? child : document.createTextNode(String(child ?? "")));
  }
  return node;
}

function cellText(value) {
  if (value === null || value === undefined) return "–";
  if (typeof value === "number") return Number.isInteger(value) ? value.toLocaleString("en-US") : value.toFixed(2);
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

// columns: [{key, label, num?, render?(row) -> Node|string}]
function table(columns, data, caption) {
  if (!data.length) return el("p", { className: "muted" }, "Nothing in this period.");
  const head = el("tr", {}, ...columns.map((c) => el("th", { scope: "col", className: c.num ? "num" : "" }, c.label)));
  const body = data.map((row) =>
    el("tr", {}, ...columns.map((c) =>
      el("td", { className: c.num ? "num" : "", "data-column": c.key }, c.render ? c.render(row) : cellText(row[c.key])))));
  return el("table", {}, el("caption", { className: "skip" }, caption), el("thead", {}, head), el("tbody", {}, ...body));
}

// A table of whatever the rows hold (for endpoints whose shape is theirs to choose).
function genericTable(data, caption) {
  const keys = [];
  for (const row of data.slice(0, 20)) for (const key of Object.keys(row)) if (!keys.includes(key)) keys.push(key);
  return table(keys.map((key) => ({ key, label: key.replaceAll("_", " "), num: typeof data[0][key] === "number" })), data, caption);
}

function unavailable(what) {
  return el("p", { className: "unavailable", "data-state": "unavailable" }, `${what}: not available on this server.`);
}

function fill(id, ...nodes) { $(id).replaceChildren(...nodes); }

function badge(level, text) { return el("span", { className: `badge ${level}` }, text); }

function plot(id, traces, layout) {
  if (!window.Plotly) { fill(id, el("p", { className: "muted" }, "Charts unavailable (plotly.js is not installed).")); return; }
  window.Plotly.react($(id), traces, {
    margin: { l: 50, r: 50, t: 10, b: 70 }, legend: { orientation: "h", y: -0.3 }, ...layout,
  }, PLOT_CONFIG);
}

// ---- rendering ----------------------------------------------------------------------

function renderKpis(summary) {
  fill("kpis", ...KPIS.map((kpi) => {
    const value = summary[kpi.id];
    const level = health(kpi, value);
    return el("article", { className: `kpi ${level}`, "data-kpi": kpi.id, "data-value": value ?? "", "aria-label": kpi.label },
      el("h3", {}, kpi.label),
      el("div", { className: "value" }, formatNumber(value, kpi.unit)),
      el("div", { className: "health" }, kpi.good === undefined ? `${formatNumber(summary.throughput_rps, "req/s")}` : HEALTH_TEXT[level]));
  }));
}

function endpointBadge(row) {
  const level = row.error_rate >= 5 || row.p95_ms > 1000 ? "bad" : row.error_rate > 0 || row.p95_ms > 500 ? "warn" : "good";
  return badge(level, level === "good" ? "OK" : level === "warn" ? "Slow" : "Critical");
}

const ENDPOINT_COLUMNS = [
  { key: "status", label: "Status", render: endpointBadge },
  { key: "method", label: "Method" },
  { key: "endpoint", label: "Endpoint", render: (r) => el("code", {}, r.endpoint) },
  { key: "requests", label: "Requests", num: true },
  { key: "avg_ms", label: "Avg ms", num: true },
  { key: "p95_ms", label: "p95 ms", num: true },
  { key: "p99_ms", label: "p99 ms", num: true },
  { key: "error_rate", label: "Errors %", num: true },
  { key: "cache_hit_rate", label: "Cache hit %", num: true },
  { key: "avg_db_queries", label: "DB queries", num: true },
];

const QUERY_COLUMNS = [
  { key: "query_type", label: "Type" },
  { key: "normalized_text", label: "Statement", render: (r) => el("span", { className: "sql" }, r.normalized_text) },
  { key: "count", label: "Count", num: true },
  { key: "total_time_ms", label: "Total ms", num: true },
  { key: "avg_ms", label: "Avg ms", num: true },
  { key: "max_ms", label: "Max ms", num: true },
  { key: "endpoints", label: "Endpoints", render: (r) => (r.endpoints || []).join(", ") },
];

function renderOverview(report) {
  const times = report.response_time_trend.map((p) => p.t);
  plot("chart-response", [
    { x: times, y: report.response_time_trend.map((p) => p.avg_ms), name: "avg", type: "scatter", mode: "lines+markers", connectgaps: true },
    { x: times, y: report.response_time_trend.map((p) => p.p95_ms), name: "p95", type: "scatter", mode: "lines+markers", connectgaps: true },
  ], { yaxis: { title: "ms", rangemode: "tozero" } });
  const volume = report.request_volume_trend;
  plot("chart-volume", [
    { x: volume.map((p) => p.t), y: volume.map((p) => p.requests), name: "requests", type: "bar" },
    { x: volume.map((p) => p.t), y: volume.map((p) => p.errors), name: "errors", type: "bar", marker: { color: "#a40e26" } },
  ], { barmode: "overlay", yaxis: { rangemode: "tozero" } });
  fill("overview-slowest", table(ENDPOINT_COLUMNS, report.top_slow_endpoints.slice(0, 10), "Slowest endpoints"));
}

function renderDatabase(report) {
  const db = report.database_performance;
  fill("database-summary", el("p", {}, `${formatNumber(db.total_queries, "")} queries, ${formatNumber(db.total_time_ms, "ms")} in total.`));
  fill("database-slow", table(QUERY_COLUMNS, db.slow_queries, "Slow queries"));
  fill("database-n1", table([...QUERY_COLUMNS.slice(0, 3),
    { key: "n_plus_one_requests", label: "Requests flagged", num: true },
    { key: "n_plus_one_endpoints", label: "Endpoints", render: (r) => (r.n_plus_one_endpoints || []).join(", ") }],
  db.n_plus_one, "N+1 queries"));
  const advice = report.recommendations.filter((r) => r.type === "index");
  fill("database-advice", table([
    { key: "priority", label: "Priority" }, { key: "target_resource", label: "Target" },
    { key: "description", label: "Advice" }, { key: "expected_improvement", label: "Expected" }], advice, "Index advice"));
}

function renderCache(report) {
  const cache = report.cache_performance;
  fill("cache-summary", el("p", {}, `Hits ${formatNumber(cache.hits, "")}, misses ${formatNumber(cache.misses, "")}, hit rate ${formatNumber(cache.hit_rate, "%")}.`));
  fill("cache-endpoints", table([
    { key: "method", label: "Method" }, { key: "endpoint", label: "Endpoint", render: (r) => el("code", {}, r.endpoint) },
    { key: "requests", label: "Requests", num: true }, { key: "hits", label: "Hits", num: true },
    { key: "misses", label: "Misses", num: true }, { key: "hit_rate", label: "Hit %", num: true }], cache.endpoints, "Cache per endpoint"));
}

async function renderOptional(id, path, what) {
  const answer = await api(path);
  if (answer.status === 404 || answer.status === 405) fill(id, unavailable(what));
  else if (!answer.ok) fill(id, el("p", { className: "error" }, `${what}: ${answer.body?.detail || answer.status}`));
  else { const data = rows(answer.body); fill(id, data.length ? genericTable(data, what) : el("p", { className: "muted" }, "None.")); }
}

// ---- recommendations --------------------------------------------------------------------

const NEXT_STATUSES = { pending: ["implementing", "rejected"], implementing: ["completed", "rejected"] };
const ACTION_LABEL = { implementing: "Start implementing", completed: "Mark completed", rejected: "Reject" };

async function changeStatus(id, status) {
  const answer = await api(`/api/admin/performance/recommendations/${encodeURIComponent(id)}`, { method: "PATCH", body: { status } });
  const message = $("recommendations-message");
  if (answer.ok) { message.textContent = ""; setStatus(`Recommendation ${id} is now ${status}.`); await renderRecommendations(); return; }
  message.textContent = answer.status === 403
    ? "Not allowed: changing a recommendation needs an operator key."
    : `Could not change recommendation ${id}: ${answer.body?.detail || answer.status}`;
}

async function renderRecommendations() {
  const answer = await api("/api/admin/performance/recommendations?limit=200");
  if (answer.status === 404) {
    // The endpoint is not on this server: list the report's pending ones, read-only.
    fill("recommendations-table", unavailable("Recommendation status actions"),
      table([{ key: "priority", label: "Priority" }, { key: "type", label: "Type" },
        { key: "target_resource", label: "Target" }, { key: "description", label: "Description" }],
      state.report ? state.report.recommendations : [], "Pending recommendations"));
    return;
  }
  if (!answer.ok) { fill("recommendations-table", el("p", { className: "error" }, answer.body?.detail || String(answer.status))); return; }
  fill("recommendations-table", table([
    { key: "id", label: "#", num: true },
    { key: "priority", label: "Priority" },
    { key: "type", label: "Type", render: (r) => r.type || r.recommendation_type },
    { key: "target_resource", label: "Target" },
    { key: "description", label: "Description" },
    { key: "status", label: "Status", render: (r) => badge(r.status === "completed" ? "good" : r.status === "rejected" ? "bad" : "warn", r.status) },
    { key: "actions", label: "Actions", render: (r) => el("span", {}, ...(NEXT_STATUSES[r.status] || []).map((next) =>
      el("button", { type: "button", "data-action": next, "data-id": r.id, "aria-label": `${ACTION_LABEL[next]}: recommendation ${r.id}`,
        onclick: () => changeStatus(r.id, next) }, ACTION_LABEL[next]))) },
  ], rows(answer.body), "Recommendations"));
}

// ---- live feed and alerts ----------------------------------------------------------------

// The platform's alerts (perf.alerts): polled while signed in, whatever the tab or refresh
// setting, so that a firing or a resolution shows within ALERTS_POLL_MS.
const ALERTS_POLL_MS = 10000;
const SEVERITY_BADGE = { critical: "bad", warning: "warn", info: "info" };
const SEVERITY_RANK = { critical: 0, warning: 1, info: 2 };
const METRIC_UNIT = { p95_ms: "ms", p99_ms: "ms", avg_ms: "ms", db_time_ms: "ms", error_rate: "%",
  cache_hit_rate: "%", requests_per_second: "req/s", replica_lag_seconds: "s", scale_failed_events: "" };

function alertCondition(alert) {
  const unit = METRIC_UNIT[alert.metric] ?? "";
  const where = alert.endpoint ? ` on ${alert.endpoint}` : "";
  const sign = alert.comparison === "below" ? "<" : ">";
  return `${alert.metric}${where} ${sign} ${formatNumber(alert.threshold, unit)}, now ${formatNumber(alert.value, unit)}`;
}

function renderAlerts(alerts) {
  const firing = alerts.filter((a) => a.status === "firing");
  const worst = firing.map((a) => a.severity).sort((a, b) => SEVERITY_RANK[a] - SEVERITY_RANK[b])[0];
  const badgeEl = $("alerts-badge");
  badgeEl.className = `badge ${worst ? SEVERITY_BADGE[worst] : "none"}`;
  badgeEl.dataset.firing = String(firing.length);
  badgeEl.textContent = firing.length ? `${firing.length} firing` : "No alerts firing";
  const items = alerts.map((alert) => {
    const since = alert.since ? new Date(alert.since).toLocaleString() : "";
    const kind = alert.status === "resolved" ? "resolved" : `${alert.severity} ${alert.status}`;
    return el("li", { className: `alert-item ${kind}`, "data-rule": alert.name, "data-status": alert.status, "data-severity": alert.severity },
      el("span", { className: "name" }, alert.name),
      el("span", {}, `${alert.status.toUpperCase()} · ${alert.severity}`),
      el("span", {}, alertCondition(alert)),
      el("span", { className: "since" }, alert.status === "resolved" ? `resolved ${since}` : `since ${since}`));
  });
  fill("alerts-list", ...(items.length ? items : [el("li", { className: "empty" }, "No alerts firing or resolved in the last hour.")]));
  logAlertChanges(alerts);
}

// Each firing and each resolution seen between two polls goes to the log, newest first.
function logAlertChanges(alerts) {
  const first = state.alertsSeen === undefined;
  const seen = state.alertsSeen || {};
  state.alertsSeen = {};
  for (const alert of alerts) {
    state.alertsSeen[alert.rule_id] = alert.status;
    if (first || seen[alert.rule_id] === alert.status) continue;
    if (alert.status !== "firing" && alert.status !== "resolved") continue;
    const time = new Date().toLocaleTimeString();
    $("alerts").prepend(el("p", { className: `alert ${alert.status}` }, `${time} ${alert.status.toUpperCase()}: ${alert.name} (${alertCondition(alert)})`));
    while ($("alerts").childElementCount > 5) $("alerts").lastElementChild.remove();
  }
}

async function refreshAlerts() {
  try {
    const answer = await api("/api/admin/alerts?limit=200");
    if (answer.ok) renderAlerts(rows(answer.body));
    else if (answer.status === 404 && state.report) renderAlerts(state.report.alerts || []);
  } catch (error) {
    // Offline for a moment: the next poll tries again.
  }
}

function startAlerts() {
  clearInterval(state.alertTimer);
  state.alertTimer = setInterval(refreshAlerts, ALERTS_POLL_MS);
}

function renderLive(payload) {
  const series = payload.series;
  const last10 = series.slice(-10);
  const count = last10.reduce((n, p) => n + p.count, 0);
  const p95 = Math.max(0, ...last10.map((p) => p.p95_ms ?? 0));
  fill("live-figures",
    el("article", { className: "kpi", "data-live": "rps" }, el("h3", {}, "Requests/s (10 s)"), el("div", { className: "value" }, (count / 10).toFixed(1))),
    el("article", { className: "kpi", "data-live": "p95" }, el("h3", {}, "Worst p95 (10 s)"), el("div", { className: "value" }, formatNumber(p95, "ms"))));
  $("live-state").textContent = `Worker ${payload.worker}, updated ${new Date(payload.generated_at * 1000).toLocaleTimeString()}.`;
  if (!$("panel-live").hidden) {
    const x = series.map((p) => new Date(p.t * 1000));
    plot("chart-live", [
      { x, y: series.map((p) => p.count), name: "requests/s", type: "bar" },
      { x, y: series.map((p) => p.p95_ms), name: "p95 ms", yaxis: "y2", type: "scatter", mode: "lines" },
    ], { yaxis: { rangemode: "tozero" }, yaxis2: { overlaying: "y", side: "right", rangemode: "tozero" } });
  }
}

// EventSource cannot send a header, so the stream is read with fetch and parsed here.
async function startLive() {
  stopLive();
  const controller = new AbortController();
  state.live = controller;
  try {
    const response = await fetch("/api/admin/performance/live", {
      headers: { Authorization: `Bearer ${state.key}`, Accept: "text/event-stream" }, signal: controller.signal,
    });
    if (!response.ok) { $("live-state").textContent = `Live feed unavailable (${response.status}).`; return; }
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = event.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim()).join("\n");
        if (data) renderLive(JSON.parse(data));
      }
    }
  } catch (error) {
    if (controller.signal.aborted) return;
    $("live-state").textContent = "Live feed interrupted; reconnecting…";
  }
  // The stream ended (server restart, network): try again shortly while signed in.
  if (state.live === controller && state.key) setTimeout(() => { if (state.live === controller) startLive(); }, 3000);
}

function stopLive() { if (state.live) { const c = state.live; state.live = null; c.abort(); } }

// ---- loading, tabs, sign-in --------------------------------------------------------------

function setStatus(text) { $("status").textContent = text; }

async function load() {
  try {
    await loadPeriod(state.period);
  } catch (error) {
    // Network down or server restarting: say so, and let the next refresh try again.
    setStatus(`The server could not be reached (${error.message}); the next refresh retries.`);
  }
}

async function loadPeriod(period) {
  setStatus("Loading…");
  const answer = await api(`/api/admin/performance/report?period=${period}`);
  if (!answer.ok) { if (state.key) setStatus(`The report failed: ${answer.body?.detail || answer.status}`); return; }
  const report = answer.body;
  state.report = report;
  renderKpis(report.summary);
  renderOverview(report);
  renderDatabase(report);
  renderCache(report);
  if (report.alerts) renderAlerts(report.alerts);
  const endpoints = await api(`/api/admin/performance/endpoints?period=${period}&limit=50`);
  if (endpoints.ok) fill("endpoints-table", table(ENDPOINT_COLUMNS, rows(endpoints.body), "Endpoints"));
  await Promise.all([
    renderOptional("database-replicas", "/api/admin/database/replicas", "Replicas"),
    renderOptional("cache-policies", "/api/admin/cache/policies?limit=200", "Cache policies"),
    renderOptional("scaling-instances", "/api/admin/scaling/instances", "Current instances"),
    renderOptional("scaling-events", `/api/admin/scaling/events?period=${period}`, "Scaling events"),
    renderOptional("scaling-configs", "/api/admin/scaling/configs?limit=200", "Scaling configuration"),
    renderRecommendations(),
  ]);
  document.body.dataset.loadedPeriod = period;
  setStatus(`Period ${period}, generated ${new Date(report.generated_at).toLocaleString()}.`);
}

function selectTab(tab, focus) {
  for (const other of document.querySelectorAll("[role=tab]")) {
    const selected = other === tab;
    other.setAttribute("aria-selected", String(selected));
    other.tabIndex = selected ? 0 : -1;
    $(other.getAttribute("aria-controls")).hidden = !selected;
  }
  if (focus) tab.focus();
  // Charts drawn while hidden have no size; redraw them now they are visible.
  if (window.Plotly) for (const chart of $(tab.getAttribute("aria-controls")).querySelectorAll(".js-plotly-plot")) window.Plotly.Plots.resize(chart);
}

function onTabKey(event) {
  const tabs = [...document.querySelectorAll("[role=tab]")];
  const index = tabs.indexOf(event.target);
  const moves = { ArrowRight: index + 1, ArrowLeft: index - 1, Home: 0, End: tabs.length - 1 };
  if (!(event.key in moves)) return;
  event.preventDefault();
  selectTab(tabs[(moves[event.key] + tabs.length) % tabs.length], true);
}

function scheduleRefresh() {
  clearInterval(state.timer);
  state.timer = $("auto-refresh").checked ? setInterval(load, REFRESH_MS) : null;
}

function showSignedIn(signedIn) {
  $("sign-in").hidden = signedIn;
  $("app").hidden = !signedIn;
  $("controls").hidden = !signedIn;
}

function signOut(message) {
  sessionStorage.removeItem(KEY_STORE);
  state.key = null;
  stopLive();
  clearInterval(state.timer);
  clearInterval(state.alertTimer);
  state.alertsSeen = undefined;
  showSignedIn(false);
  $("sign-in-error").textContent = message || "";
  $("api-key").focus();
}

async function signIn(key) {
  state.key = key;
  let probe;
  try {
    probe = await api("/api/admin/performance/report?period=1h", { quiet401: true });
  } catch (error) {
    showSignedIn(false);
    $("sign-in-error").textContent = `The server could not be reached (${error.message}).`;
    return;
  }
  if (probe.status === 401 || probe.status === 403) {
    signOut(probe.status === 401 ? "That API key is not valid." : "That key may not read the performance report.");
    return;
  }
  sessionStorage.setItem(KEY_STORE, key);
  $("sign-in-error").textContent = "";
  showSignedIn(true);
  scheduleRefresh();
  startLive();
  startAlerts();
  await load();
}

function init() {
  // A #key=... link signs in; the key leaves the address bar (and history) at once.
  const fragment = new URLSearchParams(location.hash.slice(1));
  if (fragment.has("key")) {
    sessionStorage.setItem(KEY_STORE, fragment.get("key"));
    history.replaceState(null, "", location.pathname + location.search);
  }
  $("sign-in-form").addEventListener("submit", (event) => { event.preventDefault(); signIn($("api-key").value.trim()); });
  $("sign-out").addEventListener("click", () => signOut("Signed out."));
  $("refresh").addEventListener("click", load);
  $("period").addEventListener("change", () => { state.period = $("period").value; load(); });
  $("auto-refresh").addEventListener("change", scheduleRefresh);
  for (const tab of document.querySelectorAll("[role=tab]")) {
    tab.addEventListener("click", () => selectTab(tab, false));
    tab.addEventListener("keydown", onTabKey);
  }
  const stored = sessionStorage.getItem(KEY_STORE);
  if (stored) signIn(stored);
  else signOut("");
}

document.addEventListener("DOMContentLoaded", init);
