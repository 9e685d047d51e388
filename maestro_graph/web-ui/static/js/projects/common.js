// What the project page and the training-job views share: small charts (uPlot), status tags,
// progress bars, and whether the signed-in person may change things.
import { claims } from "../api.js";
import { h } from "../dom.js";

/** True when the token's roles let its holder run mutations (editor or admin). */
export function canEdit() {
  const roles = (claims()?.roles ?? []).map((r) => String(r).toLowerCase());
  return roles.includes("editor") || roles.includes("admin");
}

/**
 * Hands a view's render `left()`: whether the person has navigated away since it began, so it
 * can stop before starting subscriptions. (A view superseded while it rendered has its returned
 * stop called by the router.)
 */
export function guarded(render) {
  return async (root, params, page) => {
    const hash = location.hash;
    return render(root, params, page, () => location.hash !== hash);
  };
}

/** "SUCCESS_SCORE" -> "Success score" */
export function words(constant) {
  const s = String(constant ?? "").toLowerCase().replace(/_/g, " ").replace(/\b(ci|pr|mae)\b/g, (w) => w.toUpperCase());
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** A date for people: "Jan 6, 2025", or "–". */
export function day(stamp) {
  if (!stamp) return "–";
  return new Date(stamp).toLocaleDateString("en", { year: "numeric", month: "short", day: "numeric" });
}

/** A status tag: text and colour both say it (colour is never the only cue). */
export function statusTag(status) {
  return h("span", { class: `tag status status-${String(status).toLowerCase()}` }, words(status));
}

export const ENDED = new Set(["SUCCEEDED", "FAILED", "CANCELLED"]);

/**
 * A progress bar a screen reader reads (role=progressbar, aria-valuenow in percent). Returns the
 * element; set(progress 0..1) moves it.
 */
export function progressBar(label, progress = 0) {
  const inner = h("div");
  const text = h("span", { class: "pct" });
  const bar = h("div", { class: "progress", role: "progressbar", "aria-label": label, "aria-valuemin": 0, "aria-valuemax": 100 }, inner);
  const el = h("div", { class: "progress-row" }, bar, text);
  el.set = (p) => {
    const pct = Math.max(0, Math.min(100, Math.round((p ?? 0) * 100)));
    bar.setAttribute("aria-valuenow", String(pct));
    bar.setAttribute("aria-valuetext", `${pct}%`);
    inner.style.width = `${pct}%`;
    text.textContent = `${pct}%`;
  };
  el.set(progress);
  return el;
}

const COLOURS = ["#0b5cad", "#8250df", "#116329", "#a40e26", "#7d4e00", "#1b7c83"];

/**
 * A small line chart of one series in `box` (uPlot): xs are seconds since the epoch when
 * `time`, plain numbers otherwise. Returns { set(xs, ys), destroy() }; it follows the box's width.
 */
export function lineChart(box, { label, xs, ys, time = true, xLabel = null, colour = 0, height = 150 }) {
  const width = () => Math.max(200, Math.floor(box.clientWidth || 300));
  const opts = {
    width: width(),
    height,
    legend: { show: false },
    cursor: { drag: { x: false, y: false } },
    scales: { x: { time } },
    axes: [
      { stroke: "#57606a", grid: { stroke: "#eaeef2" }, ticks: { stroke: "#d0d7de" }, label: xLabel ?? undefined, labelSize: xLabel ? 20 : 0, size: time ? 50 : 32 },
      { stroke: "#57606a", grid: { stroke: "#eaeef2" }, ticks: { stroke: "#d0d7de" }, size: 52 },
    ],
    series: [{}, { label, stroke: COLOURS[colour % COLOURS.length], width: 2, points: { show: true, size: 5 } }],
  };
  const chart = new window.uPlot(opts, [xs, ys], box);
  const follow = new ResizeObserver(() => {
    const w = width();
    if (w !== chart.width) chart.setSize({ width: w, height });
  });
  follow.observe(box);
  return {
    set(nextXs, nextYs) { chart.setData([nextXs, nextYs]); },
    destroy() { follow.disconnect(); chart.destroy(); },
  };
}
