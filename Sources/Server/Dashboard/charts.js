// resmon's dashboard: charts (Chart.js from Debian's libjs-chart.js), their history and live
// updates, and the time cursor all charts share.
"use strict";

const palette = ["#4aa3ff", "#3fb950", "#d29922", "#f778ba", "#a371f7", "#39c5cf", "#f85149", "#e3b341", "#8b949e", "#56d364"];
const cards = new Set();
let cursorTime = null;

// The vertical line at the hovered time, on every chart, and a chart's marks (raise, cancel).
const cursorPlugin = {
  id: "resmonCursor",
  afterEvent(chart, args) {
    const event = args.event;
    if (event.type === "mousemove" && chart.scales.x) setCursor(chart.scales.x.getValueForPixel(event.x), chart);
    else if (event.type === "mouseout") setCursor(null, chart);
  },
  afterDraw(chart) {
    const scale = chart.scales.x, area = chart.chartArea;
    if (!scale || !area) return;
    const line = (time, color, dash) => {
      if (time < scale.min || time > scale.max) return;
      const x = scale.getPixelForValue(time);
      const context = chart.ctx;
      context.save();
      context.strokeStyle = color;
      context.setLineDash(dash);
      context.beginPath();
      context.moveTo(x, area.top);
      context.lineTo(x, area.bottom);
      context.stroke();
      context.restore();
    };
    for (const mark of chart.$resmonMarks || []) line(mark.time, mark.color, [4, 3]);
    if (cursorTime !== null) line(cursorTime, "#7f8b99", []);
  },
};

function setCursor(time, source) {
  cursorTime = time;
  for (const card of cards) if (card.chart && card.chart !== source) card.chart.draw();
}

// Time ticks on round times: every 2 min over 10 min, 30 min over 2 h, a day over a week, a month over a year.
function tickStep() {
  return { 600: 120, 7200: 1800, 604800: 86400, 31536000: 2592000 }[R.range] || R.range / 5;
}

// Ticks on multiples of the step in local time (whole minutes, hours, days).
function roundTimeTicks(axis) {
  const step = tickStep();
  const offset = new Date().getTimezoneOffset() * 60;
  const ticks = [];
  for (let time = Math.ceil((axis.min - offset) / step) * step + offset; time <= axis.max; time += step) ticks.push({ value: time });
  axis.ticks = ticks;
}

function chartsAvailable() {
  return typeof Chart !== "undefined";
}

function setUpCharts() {
  if (!chartsAvailable()) {
    showBanner("Chart.js is not available (GET /dashboard/chart.js failed): install Debian's libjs-chart.js " +
      "(apt-get install libjs-chart.js) on the host running resmond. Tables still work; charts are off.");
    return;
  }
  Chart.defaults.color = "#9aa5b1";
  Chart.defaults.borderColor = "#263040";
  Chart.defaults.font.size = 11;
  Chart.register(cursorPlugin);
}

// A card holding one chart of one or more series, each series one statistic's key.
class ChartCard {
  constructor(container, title, unit, series, options = {}) {
    this.unit = unit;
    this.series = series; // [{key, label}]
    this.options = options;
    this.lines = options.lines || []; // constant series: [{label, value, color}]
    this.subtitle = el("span", { class: "muted" }, options.subtitle || "");
    const heading = el("h2", {}, el("span", {}, title), this.subtitle);
    if (options.onClose) heading.append(el("button", { class: "close", type: "button", onclick: options.onClose }, "close"));
    this.canvas = el("canvas", {});
    this.element = el("div", { class: "card" }, heading, el("div", { class: "plot" }, this.canvas));
    this.element.dataset.keys = series.map((s) => s.key).join(" ");
    container.append(this.element);
    cards.add(this);
    if (chartsAvailable()) this.chart = new Chart(this.canvas, this.configuration());
  }

  configuration() {
    const unit = this.unit;
    const datasets = this.series.map((series, index) => ({
      label: series.label,
      data: [],
      borderColor: series.color || palette[index % palette.length],
      backgroundColor: series.color || palette[index % palette.length],
      borderWidth: series.width || 1.5,
      // Points show while a series is short (a statistic pushed a moment ago), lines after.
      pointRadius: (context) => (context.dataset.data.length < 40 ? 2 : 0),
      pointHitRadius: 4,
      tension: 0,
      spanGaps: false,
    }));
    for (const line of this.lines) {
      datasets.push({ label: line.label, data: [], borderColor: line.color, backgroundColor: line.color,
        borderWidth: 1, borderDash: [6, 4], pointRadius: 0, spanGaps: true });
    }
    return {
      type: "line",
      data: { datasets },
      options: {
        parsing: false,
        normalized: true,
        animation: false,
        maintainAspectRatio: false,
        interaction: { mode: "nearest", axis: "x", intersect: false },
        scales: {
          x: {
            type: "linear",
            ticks: { maxRotation: 0, autoSkip: false, callback: (value) => formatTime(value, R.range) },
            afterBuildTicks: roundTimeTicks,
          },
          y: {
            beginAtZero: true,
            suggestedMax: unit === "ratio" ? 0.05 : undefined,
            ticks: { maxTicksLimit: 6, callback: (value) => formatValue(value, unit) },
          },
        },
        plugins: {
          legend: { display: datasets.length > 1, position: "bottom", labels: { boxWidth: 10, boxHeight: 2 } },
          tooltip: {
            callbacks: {
              title: (items) => items.length ? formatTime(items[0].parsed.x, 600) + (R.range > 900 ? " " + new Date(items[0].parsed.x * 1000).toDateString() : "") : "",
              label: (item) => `${item.dataset.label}: ${formatValue(item.parsed.y, unit)}`,
            },
          },
        },
      },
    };
  }

  // The chosen range from the archives: the finest that reaches back that far. At a short step
  // the finest archive (120 steps) spans less than 10 minutes: its rows then follow the coarser
  // archive's.
  async loadHistory() {
    const now = Date.now() / 1000;
    const fineSpan = 120 * R.step;
    const read = (key, start) => api(`/v1/history/${keyPath(key)}?start=-${start}`).then(
      (answer) => (answer.rows || []).map((row) => ({ x: row.t, y: row.v ?? null })),
      (error) => { if (error.status === 404) return []; throw error; });
    const series = await Promise.all(this.series.map(async (series) => {
      const coarse = await read(series.key, R.range);
      if (fineSpan >= R.range) return coarse;
      const fine = await read(series.key, fineSpan);
      const first = fine.length ? fine[0].x : Infinity;
      return coarse.filter((point) => point.x < first).concat(fine);
    }));
    if (!this.chart) return;
    series.forEach((points, index) => { this.chart.data.datasets[index].data = points; });
    this.setWindow(now);
    this.chart.update("none");
  }

  // A live reading, appended when newer than the last point.
  append(key, time, value) {
    if (!this.chart || time === null || time === undefined) return;
    this.series.forEach((series, index) => {
      if (series.key !== key) return;
      const data = this.chart.data.datasets[index].data;
      if (data.length && data[data.length - 1].x >= time) return;
      data.push({ x: time, y: value === undefined ? null : value });
      while (data.length && data[0].x < time - R.range) data.shift();
    });
  }

  setWindow(now) {
    const scales = this.chart.options.scales;
    scales.x.min = now - R.range;
    scales.x.max = now;
    for (const [index, line] of this.lines.entries()) {
      this.chart.data.datasets[this.series.length + index].data = [{ x: now - R.range, y: line.value }, { x: now, y: line.value }];
    }
  }

  refresh() {
    if (!this.chart) return;
    this.setWindow(Date.now() / 1000);
    this.chart.update("none");
  }

  setMarks(marks) {
    if (!this.chart) return;
    this.chart.$resmonMarks = marks;
    this.chart.draw();
  }

  destroy() {
    cards.delete(this);
    if (this.chart) this.chart.destroy();
    this.element.remove();
  }
}

// Live readings for the charts at the 10-minute range; the longer ranges re-read the archives.
async function feedCharts(statistics) {
  if (R.range !== 600) return;
  for (const statistic of statistics) {
    for (const card of cards) card.append(statistic.key, statistic.time, statistic.value);
  }
}
