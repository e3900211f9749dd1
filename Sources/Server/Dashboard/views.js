// resmon's dashboard: the views (overview, statistics, processes, monitors, events) and start-up.
"use strict";

// ---- Overview ----------------------------------------------------------------------------
// Only what the overview draws (26 statistics on a small VM, of 126 in these subsystems): the
// listing each step is most of what an open page costs resmond.
const overviewPattern = "^(cpu:[a-z0-9]+:usage_ratio|memory:host:(used|cached|buffers|swap_used)_bytes|load:host:load(1|5|15)"
  + "|pressure:[a-z]+:some_avg10_ratio|disk:[^:]+:(read|written)_bytes_total|net:[^:]+:(receive|transmit)_bytes_total|fs:.+:used_ratio)$";
let overviewCards = [];

function overviewLayout(statistics) {
  const keys = new Set(statistics.map((s) => s.key));
  const pick = (pattern) => statistics.filter((s) => pattern.test(s.key)).map((s) => s.key).sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  const resource = (key) => key.split(":")[1];
  const charts = [];
  const cores = pick(/^cpu:cpu\d+:usage_ratio$/);
  if (keys.has("cpu:total:usage_ratio")) {
    charts.push({ title: "CPU", unit: "ratio", subtitle: `total and ${cores.length} cores`,
      series: [{ key: "cpu:total:usage_ratio", label: "total", width: 2.5 }].concat(cores.map((key) => ({ key, label: resource(key) }))) });
  }
  const memory = ["used_bytes", "cached_bytes", "buffers_bytes", "swap_used_bytes"].map((name) => "memory:host:" + name).filter((key) => keys.has(key));
  if (memory.length) charts.push({ title: "Memory", unit: "bytes", series: memory.map((key) => ({ key, label: key.split(":")[2].replace("_bytes", "") })) });
  const load = ["load1", "load5", "load15"].map((name) => "load:host:" + name).filter((key) => keys.has(key));
  if (load.length) charts.push({ title: "Load", unit: "", series: load.map((key) => ({ key, label: key.split(":")[2] })) });
  const pressure = pick(/^pressure:[a-z]+:some_avg10_ratio$/);
  if (pressure.length) charts.push({ title: "Pressure", unit: "ratio", subtitle: "some, 10 s average", series: pressure.map((key) => ({ key, label: resource(key) })) });
  const disks = pick(/^disk:[^:]+:(read|written)_bytes_total$/);
  if (disks.length) charts.push({ title: "Disks", unit: "bytes/s", series: disks.map((key) => ({ key, label: resource(key) + (key.includes(":read") ? " read" : " written") })) });
  const net = pick(/^net:[^:]+:(receive|transmit)_bytes_total$/).filter((key) => !key.startsWith("net:lo:"));
  if (net.length) charts.push({ title: "Network", unit: "bytes/s", series: net.map((key) => ({ key, label: resource(key) + (key.includes(":receive") ? " in" : " out") })) });
  const fs = pick(/^fs:.+:used_ratio$/);
  if (fs.length) charts.push({ title: "File systems", unit: "ratio", subtitle: "used", series: fs.map((key) => ({ key, label: key.slice(3, -":used_ratio".length) })) });
  return charts;
}

async function buildOverview() {
  const list = await api("/v1/statistics?match=" + encodeURIComponent(overviewPattern));
  const grid = document.getElementById("overview-grid");
  for (const card of overviewCards) card.destroy();
  overviewCards = overviewLayout(list.statistics).map((chart) =>
    new ChartCard(grid, chart.title, chart.unit, chart.series.slice(0, 12), { subtitle: chart.subtitle }));
  await Promise.all(overviewCards.map((card) => card.loadHistory()));
}

// One reading of every statistic a chart shows, each step.
async function pollLive() {
  if (R.range !== 600 || !cards.size) return;
  const list = await api("/v1/statistics?fields=key,time,value&match=" + encodeURIComponent(overviewPattern));
  const extra = [...cards].flatMap((card) => card.series.map((s) => s.key)).filter((key) => !new RegExp(overviewPattern).test(key));
  const more = await Promise.all([...new Set(extra)].map((key) => api("/v1/statistics/" + keyPath(key)).catch(() => null)));
  feedCharts(list.statistics.concat(more.filter(Boolean)));
  for (const card of cards) card.refresh();
  showBanner(chartsAvailable() ? "" : document.getElementById("banner").textContent);
}

async function reloadHistory() {
  await Promise.all([...cards].map((card) => card.loadHistory()));
}

// ---- Statistics ---------------------------------------------------------------------------
let detailCards = [];

function closeDetails() {
  for (const card of detailCards) card.destroy();
  detailCards = [];
}

// Charts of one thing (a statistic, a process, a monitor) under the table; closing one closes all.
function openDetails(containerId, charts, options = {}) {
  closeDetails();
  const container = document.getElementById(containerId);
  for (const chart of charts) {
    const card = new ChartCard(container, chart.title, chart.unit, chart.series, Object.assign({ onClose: closeDetails }, options));
    detailCards.push(card);
    card.loadHistory().catch((error) => showBanner(error.message));
  }
  return detailCards;
}

function openDetail(containerId, title, unit, series, options = {}) {
  return openDetails(containerId, [{ title, unit, series }], options)[0];
}

// A process's or control group's charts: those of its statistics the listing holds.
function rowCharts(prefix, row, name, charts) {
  return charts
    .map((chart) => ({ title: `${name}: ${chart.title}`, unit: chart.unit,
      series: chart.statistics.filter((statistic) => row[statistic] !== undefined)
        .map((statistic) => ({ key: `${prefix}:${statistic}`, label: statistic })) }))
    .filter((chart) => chart.series.length > 0);
}

const processCharts = [
  { title: "CPU", unit: "ratio", statistics: ["cpu_ratio"] },
  { title: "memory", unit: "bytes", statistics: ["rss_bytes"] },
  { title: "I/O", unit: "bytes/s", statistics: ["read_bytes_total", "written_bytes_total"] },
  { title: "threads", unit: "", statistics: ["threads"] },
];
const cgroupCharts = [
  { title: "CPU", unit: "ratio", statistics: ["cpu_ratio"] },
  { title: "memory", unit: "bytes", statistics: ["memory_bytes"] },
  { title: "I/O", unit: "bytes/s", statistics: ["read_bytes_total", "written_bytes_total"] },
  { title: "pids", unit: "", statistics: ["pids"] },
];

async function searchStatistics(event) {
  if (event) event.preventDefault();
  const query = new URLSearchParams();
  const match = document.getElementById("stat-match").value.trim();
  if (match) query.append("match", match);
  for (const condition of document.getElementById("stat-where").value.split(",")) {
    if (condition.trim()) query.append("where", condition.trim());
  }
  let list;
  try {
    list = await api("/v1/statistics?" + query.toString());
  } catch (error) {
    document.getElementById("stat-count").textContent = error.message;
    return;
  }
  const body = document.querySelector("#stat-table tbody");
  const shown = list.statistics.slice(0, 500);
  body.replaceChildren(...shown.map((s) => {
    const unit = unitOf(s.key, s.unit, s.kind);
    return el("tr", { onclick: () => openDetail("stat-chart", s.key, unit, [{ key: s.key, label: s.statistic }], { subtitle: s.help || "" }) },
      el("td", { title: s.key }, s.key), el("td", { class: "num" }, formatValue(s.value, unit)), el("td", {}, s.kind),
      el("td", { title: labelsText(s.labels) }, labelsText(s.labels)));
  }));
  document.getElementById("stat-count").textContent =
    `${list.statistics.length} statistics` + (list.statistics.length > shown.length ? ` (first ${shown.length} shown)` : "");
}

// ---- Processes ----------------------------------------------------------------------------
const processColumns = [
  { name: "PID", get: (p) => Number(p.pid), num: true, show: (p) => p.pid },
  { name: "name", get: (p) => p.name },
  { name: "user", get: (p) => p.user },
  { name: "unit", get: (p) => p.unit },
  { name: "CPU", get: (p) => p.cpu_ratio, num: true, show: (p) => formatValue(p.cpu_ratio, "ratio") },
  { name: "RSS", get: (p) => p.rss_bytes, num: true, show: (p) => formatValue(p.rss_bytes, "bytes") },
  { name: "threads", get: (p) => p.threads, num: true, show: (p) => formatValue(p.threads, "") },
  { name: "read", get: (p) => p.read_bytes_total, num: true, show: (p) => formatValue(p.read_bytes_total, "bytes/s") },
  { name: "write", get: (p) => p.written_bytes_total, num: true, show: (p) => formatValue(p.written_bytes_total, "bytes/s") },
  { name: "command", get: (p) => p.cmdline },
];
const processSort = { column: 4, descending: true };
let processes = [];

async function pollProcesses() {
  const list = await api("/v1/statistics?match=" + encodeURIComponent("^process:"));
  const byPid = new Map();
  for (const s of list.statistics) {
    let row = byPid.get(s.resource);
    if (!row) {
      row = { pid: s.resource, name: s.labels.name || "", user: s.labels.user || "", unit: s.labels.unit || "", cmdline: s.labels.cmdline || "" };
      byPid.set(s.resource, row);
    }
    row[s.statistic] = s.value;
  }
  processes = [...byPid.values()];
  renderProcesses();
}

function renderProcesses() {
  const filter = document.getElementById("proc-filter").value.trim().toLowerCase();
  const rows = processes.filter((p) => !filter || p.name.toLowerCase().includes(filter) || p.cmdline.toLowerCase().includes(filter));
  const shown = renderTable("proc-table", processColumns, processSort, rows, renderProcesses, (p) =>
    openDetails("proc-chart", rowCharts(`process:${p.pid}`, p, `${p.name} (${p.pid})`, processCharts), { subtitle: p.cmdline }));
  document.getElementById("proc-count").textContent = `${rows.length} of ${processes.length} processes` + (rows.length > shown ? ` (first ${shown} shown)` : "");
}

const cgroupColumns = [
  { name: "control group", get: (g) => g.path },
  { name: "unit", get: (g) => g.unit },
  { name: "CPU", get: (g) => g.cpu_ratio, num: true, show: (g) => formatValue(g.cpu_ratio, "ratio") },
  { name: "memory", get: (g) => g.memory_bytes, num: true, show: (g) => formatValue(g.memory_bytes, "bytes") },
  { name: "pids", get: (g) => g.pids, num: true, show: (g) => formatValue(g.pids, "") },
  { name: "read", get: (g) => g.read_bytes_total, num: true, show: (g) => formatValue(g.read_bytes_total, "bytes/s") },
  { name: "write", get: (g) => g.written_bytes_total, num: true, show: (g) => formatValue(g.written_bytes_total, "bytes/s") },
];
const cgroupSort = { column: 2, descending: true };
let cgroups = [];

async function pollCgroups() {
  const list = await api("/v1/statistics?match=" + encodeURIComponent("^cgroup:"));
  const byPath = new Map();
  for (const s of list.statistics) {
    let row = byPath.get(s.resource);
    if (!row) byPath.set(s.resource, (row = { path: s.resource, unit: s.labels.unit || "" }));
    row[s.statistic] = s.value;
  }
  cgroups = [...byPath.values()];
  renderCgroups();
}

function renderCgroups() {
  const filter = document.getElementById("proc-filter").value.trim().toLowerCase();
  const rows = cgroups.filter((g) => !filter || g.path.toLowerCase().includes(filter) || g.unit.toLowerCase().includes(filter));
  renderTable("cgroup-table", cgroupColumns, cgroupSort, rows, renderCgroups, (g) =>
    openDetails("proc-chart", rowCharts(`cgroup:${g.path.replace(/%/g, "%25").replace(/:/g, "%3A")}`, g, g.path, cgroupCharts)));
}

// A sortable table: a header click sorts by that column (again: the other way).
function renderTable(id, columns, sort, rows, rerender, open) {
  document.querySelector(`#${id} thead tr`).replaceChildren(...columns.map((column, index) => el("th", {
    class: index === sort.column ? "sorted" : "",
    onclick: () => {
      sort.descending = sort.column === index ? !sort.descending : !!column.num;
      sort.column = index;
      rerender();
    },
  }, column.name + (index === sort.column ? (sort.descending ? " ▼" : " ▲") : ""))));
  const column = columns[sort.column];
  rows.sort((a, b) => {
    const x = column.get(a), y = column.get(b);
    const order = column.num ? (x ?? -1) - (y ?? -1) : String(x).localeCompare(String(y));
    return sort.descending ? -order : order;
  });
  const shown = rows.slice(0, 200);
  document.querySelector(`#${id} tbody`).replaceChildren(...shown.map((row) => el("tr", { onclick: () => open(row) },
    ...columns.map((c) => el("td", { class: c.num ? "num" : "", title: String(c.show ? c.show(row) : c.get(row)) }, c.show ? c.show(row) : c.get(row))))));
  return shown.length;
}

// ---- Monitors -----------------------------------------------------------------------------
function monitorPhase(monitor) {
  const state = monitor.state || {};
  if (state.running === false) return "stopped";
  return state.phase || "clear";
}

function conditionText(spec) {
  if (spec.type === "watermark") return `watermark ${spec.mark || "high"}`;
  if (spec.type === "leakyBucket") return `leaky bucket ${spec.bucketSize}`;
  let text = `${spec.condition} ${spec.value}`;
  if (spec.cancelValue !== undefined && spec.cancelValue !== null) text += ` (cancel ${spec.cancelValue})`;
  if (spec.samples > 1) text += ` × ${spec.samples}`;
  return text;
}

async function monitorAction(id, action) {
  try {
    if (action === "delete") await api(`/v1/monitors/${encodeURIComponent(id)}`, { method: "DELETE" });
    else await api(`/v1/monitors/${encodeURIComponent(id)}/${action}`, { method: "POST" });
    showBanner("");
  } catch (error) {
    showBanner(`${action} ${id}: ${error.message}`);
  }
  await pollMonitors();
}

async function openMonitor(monitor) {
  const spec = monitor.spec;
  if (typeof spec.target !== "string") return;
  const unit = unitOf(spec.target, "", "");
  const lines = [];
  if (typeof spec.value === "number") lines.push({ label: "threshold", value: spec.value, color: "#f85149" });
  if (typeof spec.cancelValue === "number") lines.push({ label: "cancel", value: spec.cancelValue, color: "#3fb950" });
  const card = openDetail("mon-chart", monitor.id, unit, [{ key: spec.target, label: spec.target }], { subtitle: conditionText(spec), lines });
  const events = await api(`/v1/events?monitor=${encodeURIComponent(monitor.id)}&order=desc&limit=200`);
  card.setMarks(events.events.map((e) => ({ time: e.time, color: e.type === "canceled" ? "#3fb950" : "#f85149" })));
}

async function pollMonitors() {
  const list = await api("/v1/monitors");
  const body = document.querySelector("#mon-table tbody");
  body.replaceChildren(...list.monitors.map((monitor) => {
    const spec = monitor.spec, phase = monitorPhase(monitor);
    const target = typeof spec.target === "string" ? spec.target : JSON.stringify(spec.target);
    const unit = typeof spec.target === "string" ? unitOf(spec.target, "", "") : "";
    const actions = el("td", { class: "writes" }, ...["start", "stop", "reset", "delete"].map((action) =>
      el("button", { type: "button", onclick: (event) => { event.stopPropagation(); monitorAction(monitor.id, action); } }, action)));
    return el("tr", { onclick: () => openMonitor(monitor).catch((error) => showBanner(error.message)) },
      el("td", { title: spec.name || monitor.id }, monitor.id), el("td", { class: "state-" + phase }, phase),
      el("td", { title: target }, target), el("td", {}, conditionText(spec)),
      el("td", { class: "num" }, formatValue(monitor.state ? monitor.state.lastValue : null, unit)),
      el("td", { class: "sev-" + spec.severity }, spec.severity || ""), actions);
  }));
}

function backtestSpec() {
  const spec = { target: document.getElementById("bt-target").value.trim(), condition: document.getElementById("bt-condition").value,
    value: Number(document.getElementById("bt-value").value) };
  const samples = document.getElementById("bt-samples").value.trim();
  if (samples) spec.samples = Number(samples);
  return spec;
}

async function backtest(event) {
  event.preventDefault();
  const spec = backtestSpec();
  const result = document.getElementById("bt-result");
  try {
    const answer = await api("/v1/monitors/test", { method: "POST", body: { spec, since: `-${R.range}s` } });
    result.textContent = `${answer.readings} readings, ${answer.events.length} event${answer.events.length === 1 ? "" : "s"} (${answer.cf}, every ${answer.step} s)`;
    closeDetails();
    const card = openDetail("bt-chart", "backtest " + spec.target, unitOf(spec.target, "", ""), [{ key: spec.target, label: spec.target }],
      { lines: [{ label: "threshold", value: spec.value, color: "#f85149" }] });
    card.setMarks(answer.events.map((e) => ({ time: e.time, color: e.type === "canceled" ? "#3fb950" : "#f85149" })));
  } catch (error) {
    result.textContent = error.message;
  }
}

async function createFromBacktest() {
  const result = document.getElementById("bt-result");
  try {
    const monitor = await api("/v1/monitors", { method: "POST", body: backtestSpec() });
    result.textContent = "created " + monitor.id;
    await pollMonitors();
  } catch (error) {
    result.textContent = error.message;
  }
}

// ---- Events -------------------------------------------------------------------------------
let eventSource = null;
let lastEventId = 0;

// An event's row opens its monitor's chart in the monitors view.
function showMonitor(id) {
  if (!id) return;
  location.hash = "#monitors";
  api(`/v1/monitors/${encodeURIComponent(id)}`).then(openMonitor).catch((error) => showBanner(error.message));
}

function eventRow(e) {
  return el("tr", { "data-id": String(e.id), title: "open the monitor's chart", onclick: () => showMonitor(e.monitorId) },
    el("td", { class: "num" }, e.id), el("td", {}, formatStamp(e.time)),
    el("td", { class: "sev-" + e.severity }, e.severity), el("td", {}, e.type),
    el("td", { title: e.monitorName || "" }, e.monitorId || ""), el("td", { title: e.message }, e.message));
}

async function loadEvents(event) {
  if (event) event.preventDefault();
  const filter = document.getElementById("event-filter").value.trim();
  const query = new URLSearchParams({ order: "desc", limit: "200" });
  if (filter) query.set("filter", filter);
  const live = document.getElementById("event-live");
  let page;
  try {
    page = await api("/v1/events?" + query.toString());
  } catch (error) {
    live.textContent = error.message;
    live.classList.remove("on");
    return;
  }
  document.querySelector("#event-table tbody").replaceChildren(...page.events.map(eventRow));
  lastEventId = page.events.length ? page.events[0].id : Math.max(0, (page.next || 0));
  openStream(filter);
}

function openStream(filter) {
  if (eventSource) eventSource.close();
  const query = new URLSearchParams({ after: String(lastEventId) });
  if (filter) query.set("filter", filter);
  const live = document.getElementById("event-live");
  eventSource = new EventSource("/v1/events/stream?" + query.toString());
  eventSource.onopen = () => { live.textContent = "live"; live.classList.add("on"); };
  eventSource.onerror = () => { live.textContent = "reconnecting"; live.classList.remove("on"); };
  eventSource.onmessage = (message) => {
    const e = JSON.parse(message.data);
    if (e.id <= lastEventId && document.querySelector(`#event-table tr[data-id="${e.id}"]`)) return;
    lastEventId = Math.max(lastEventId, e.id);
    const body = document.querySelector("#event-table tbody");
    body.prepend(eventRow(e));
    while (body.children.length > 500) body.lastChild.remove();
    if (R.view === "monitors") pollMonitors().catch(() => {});
  };
}

// ---- Start --------------------------------------------------------------------------------
function viewChanged() {
  for (const name of ["processes", "monitors", "statistics"]) stop(name);
  if (R.view === "processes") every("processes", 5, () => Promise.all([pollProcesses(), pollCgroups()]));
  if (R.view === "monitors") every("monitors", Math.max(2, R.step), pollMonitors);
  if (R.view === "statistics") every("statistics", Math.max(1, R.step), searchStatistics);
}

function rangeChanged() {
  stop("live");
  stop("history");
  reloadHistory().catch((error) => showBanner(error.message));
  if (R.range === 600) every("live", R.step, pollLive);
  else R.timers.history = setInterval(() => reloadHistory().catch((error) => showBanner(error.message)), 60000);
}

async function start() {
  setUpHeader();
  setUpCharts();
  document.getElementById("stat-form").addEventListener("submit", searchStatistics);
  document.getElementById("proc-filter").addEventListener("input", () => { renderProcesses(); renderCgroups(); });
  document.getElementById("event-form").addEventListener("submit", loadEvents);
  document.getElementById("backtest-form").addEventListener("submit", backtest);
  document.getElementById("bt-create").addEventListener("click", createFromBacktest);
  document.addEventListener("resmon:view", viewChanged);
  document.addEventListener("resmon:range", rangeChanged);
  try {
    await refreshStatus();
    await buildOverview();
  } catch (error) {
    showBanner(error.message);
  }
  showView();
  every("status", 10, refreshStatus);
  every("live", R.step, pollLive);
  setInterval(() => buildOverview().catch((error) => showBanner(error.message)), 300000);
  loadEvents();
  document.body.dataset.ready = "true";
}

document.addEventListener("DOMContentLoaded", start);
