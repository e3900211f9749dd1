// resmon's dashboard: shared helpers. Every text from resmond (keys, labels, process names,
// messages) reaches the page through textContent or a text node, never as markup.
"use strict";

const R = {
  step: 1,
  range: 600,
  token: sessionStorage.getItem("resmon.token") || "",
  view: "overview",
  timers: {},
};

function el(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (name === "class") node.className = value;
    else if (name === "title") node.title = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function showBanner(text) {
  const banner = document.getElementById("banner");
  banner.textContent = text;
  banner.hidden = !text;
}

class APIError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// One request to resmond's API; the bearer token goes along when the viewer gave one.
async function api(path, options = {}) {
  const headers = Object.assign({ Accept: "application/json" }, options.headers || {});
  if (R.token) headers.Authorization = "Bearer " + R.token;
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method: options.method || "GET",
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    cache: "no-store",
    credentials: "omit",
  });
  if (response.status === 204) return null;
  const text = await response.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch (_) { body = null; }
  if (!response.ok) {
    const error = body && body.error ? body.error : { code: "http", message: text || response.statusText };
    throw new APIError(response.status, error.code, `${response.status} ${error.code}: ${error.message}`);
  }
  return body;
}

function keyPath(key) {
  return encodeURIComponent(key);
}

// Values as resmon shows them: ratios as percentages, bytes in IEC units, counters as rates.
function unitOf(key, unit, kind) {
  const base = unit || (key.endsWith("_ratio") ? "ratio" : key.includes("bytes") ? "bytes" : "");
  return kind === "counter" || key.endsWith("_total") ? base + "/s" : base;
}

function formatValue(value, unit) {
  if (value === null || value === undefined || !Number.isFinite(value)) return "–";
  const rate = unit.endsWith("/s");
  const base = rate ? unit.slice(0, -2) : unit;
  const suffix = rate ? "/s" : "";
  if (base === "ratio") return (value * 100).toFixed(value < 0.1 ? 2 : 1) + " %" + suffix;
  if (base === "bytes") {
    const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let scaled = Math.abs(value), index = 0;
    while (scaled >= 1024 && index < units.length - 1) { scaled /= 1024; index += 1; }
    const shown = (value < 0 ? -scaled : scaled).toFixed(scaled >= 100 || index === 0 ? 0 : 1);
    return shown + " " + units[index] + suffix;
  }
  if (base === "seconds" && rate) return value.toFixed(2) + " cores";
  if (!base && !rate && Number.isInteger(value)) return String(value);
  const magnitude = Math.abs(value);
  const shown = magnitude >= 1e6 ? value.toExponential(2) : magnitude >= 100 ? value.toFixed(0)
    : magnitude >= 1 ? value.toFixed(2) : value.toPrecision(3);
  return base ? `${shown} ${base}${suffix}` : shown + (suffix ? " " + suffix : "");
}

function formatTime(seconds, span) {
  const date = new Date(seconds * 1000);
  const pad = (n) => String(n).padStart(2, "0");
  const clock = `${pad(date.getHours())}:${pad(date.getMinutes())}`;
  if (span <= 900) return clock + ":" + pad(date.getSeconds());
  if (span <= 86400) return clock;
  const day = `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
  return span <= 8 * 86400 ? `${day} ${clock}` : day;
}

// An event's time: 2026-11-30 20:34:53, local.
function formatStamp(seconds) {
  const date = new Date(seconds * 1000);
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

function labelsText(labels) {
  return Object.entries(labels || {}).map(([name, value]) => `${name}=${value}`).join(", ");
}

// Repeats `work` every `seconds` while `name` is running and the page is visible (a tab in the
// background costs resmond nothing); errors go to the banner.
function every(name, seconds, work) {
  clearInterval(R.timers[name]);
  const run = async () => {
    if (document.hidden) return;
    try { await work(); } catch (error) { showBanner(error.message); }
  };
  run();
  R.timers[name] = setInterval(run, seconds * 1000);
}

function stop(name) {
  clearInterval(R.timers[name]);
  delete R.timers[name];
}

function applyToken() {
  document.body.classList.toggle("can-write", R.token !== "");
  const access = document.getElementById("access");
  access.textContent = R.token ? "writes with token" : "read-only";
  access.classList.toggle("on", R.token !== "");
  document.getElementById("token-save").textContent = R.token ? "Forget" : "Use";
  document.getElementById("token").value = "";
  document.getElementById("token").hidden = R.token !== "";
}

function setUpHeader() {
  document.getElementById("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    R.token = R.token ? "" : document.getElementById("token").value.trim();
    if (R.token) sessionStorage.setItem("resmon.token", R.token);
    else sessionStorage.removeItem("resmon.token");
    applyToken();
  });
  applyToken();
  const range = document.getElementById("range");
  range.addEventListener("change", () => {
    R.range = Number(range.value);
    document.dispatchEvent(new Event("resmon:range"));
  });
  window.addEventListener("hashchange", showView);
}

function showView() {
  const name = (location.hash || "#overview").slice(1);
  R.view = document.getElementById(name) ? name : "overview";
  for (const section of document.querySelectorAll("section.view")) section.hidden = section.id !== R.view;
  for (const link of document.querySelectorAll("nav a")) link.classList.toggle("active", link.dataset.view === R.view);
  document.dispatchEvent(new Event("resmon:view"));
}

async function refreshStatus() {
  const status = await api("/v1/status");
  R.step = status.stepSeconds || 1;
  document.getElementById("host").textContent = status.listen ? "on " + status.listen : "";
  document.getElementById("footer").textContent =
    `resmond ${status.version} · pid ${status.pid} · step ${R.step} s · ${status.statistics} statistics · ` +
    `${status.cycles} cycles · CPU ${status.cpuSecondsTotal.toFixed(1)} s · RSS ${formatValue(status.residentBytes, "bytes")}`;
}
