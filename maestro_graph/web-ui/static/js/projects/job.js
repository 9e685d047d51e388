// One training job (#/jobs/<id>): a live progress bar, epoch, latest metrics, a chart per metric
// over the job's history, its log tail, Cancel for editors while it runs, and a sentence for how
// it ended. It follows trainingJobUpdated from a cursor read before the job, so no change is missed.
import { gql, subscribe } from "../api.js";
import { ago, fill, h, num } from "../dom.js";
import { canEdit, day, ENDED, lineChart, progressBar, statusTag, words } from "./common.js";

const FIELDS = `id name status runner progress epoch metrics message logTail exitCode reason where cancelRequested
  submittedBy startedAt finishedAt createdAt updatedAt
  metricsHistory { at epoch metrics }
  project { id name }
  datasets { id namespace name }
  produced(first: 5) { edges { node { id version stage } } }`;
const JOB = `query($id: ID!) { trainingJob(id: $id) { ${FIELDS} } }`;
const UPDATED = `subscription($id: ID!, $after: String) { trainingJobUpdated(id: $id, after: $after) {
  cursor at kind status progress epoch metrics message exitCode reason
  job { logTail cancelRequested startedAt finishedAt updatedAt } } }`;
const CANCEL = `mutation($id: ID!) { cancelTrainingJob(id: $id) { ${FIELDS} } }`;

export async function render(root, id, page, left) {
  const { changeFeedCursor: after } = await gql("{ changeFeedCursor }"); // before the job is read
  let job = (await gql(JOB, { id })).trainingJob;
  if (left()) return undefined;
  if (!job) {
    fill(root, h("h1", {}, "No such training job"),
      h("p", {}, "There is no training job with this id in your tenant. ", h("a", { href: "#/jobs" }, "See all training jobs.")));
    return;
  }
  document.title = `${job.name} · Maestro Graph`;

  const title = h("div", { class: "title-row" }, h("h1", {}, job.name), h("span", { class: "job-status" }));
  const bar = progressBar("Training progress", job.progress);
  const ending = h("p", { class: "ending", role: "status" });
  const message = h("p", { class: "muted job-message" });
  const facts = h("dl", { class: "facts" });
  const latestBox = h("div", { class: "latest-metrics" });
  const chartBox = h("div", { class: "chart-grid" });
  const chartNote = h("p", { class: "muted" });
  const log = h("pre", { class: "log-tail", tabindex: 0, "aria-label": "Log tail" });
  const actions = h("div", { class: "actions" });

  fill(root, h("article", { class: "job-page" },
    h("p", { class: "crumbs" }, h("a", { href: "#/jobs" }, "Training jobs"),
      job.project ? [" · ", h("a", { href: `#/project/${encodeURIComponent(job.project.id)}` }, job.project.name)] : null),
    title,
    h("section", { class: "card job-progress", "aria-labelledby": "progress-h" },
      h("h2", { id: "progress-h" }, "Progress"), bar, message, ending, actions, facts),
    h("div", { class: "grid" },
      h("section", { class: "card", "aria-labelledby": "latest-h" }, h("h2", { id: "latest-h" }, "Latest metrics"), latestBox),
      h("section", { class: "card", "aria-labelledby": "log-h" }, h("h2", { id: "log-h" }, "Log tail"), log)),
    h("section", { class: "card", "aria-labelledby": "chart-h" }, h("h2", { id: "chart-h" }, "Metrics over the run"), chartNote, chartBox)));

  // The metrics history: the job's own, then a point for each reported change.
  let history = job.metricsHistory.map((p) => ({ t: Date.parse(p.at) / 1000, epoch: p.epoch, metrics: p.metrics ?? {} }));
  const charts = new Map();
  let byEpoch = true;

  function drawCharts() {
    byEpoch = history.length > 0 && history.every((p) => p.epoch != null);
    const keys = [...new Set(history.flatMap((p) => Object.keys(p.metrics).filter((k) => typeof p.metrics[k] === "number")))].sort();
    chartNote.textContent = keys.length === 0
      ? (ENDED.has(job.status) ? "This job reported no metrics." : "No metrics reported yet: they are drawn here as the job reports them.") : "";
    keys.forEach((key, i) => {
      const points = history.filter((p) => typeof p.metrics[key] === "number");
      const xs = points.map((p) => (byEpoch ? p.epoch : p.t));
      const ys = points.map((p) => p.metrics[key]);
      const known = charts.get(key);
      if (known) {
        known.set(xs, ys);
        return;
      }
      const plot = h("div", { class: "chart", role: "img", "aria-label": `${key} by ${byEpoch ? "epoch" : "time"}` });
      chartBox.append(h("figure", { class: "metric-chart", dataset: { metric: key } }, h("figcaption", {}, h("strong", {}, key)), plot));
      charts.set(key, lineChart(plot, { label: key, xs, ys, time: !byEpoch, xLabel: byEpoch ? "epoch" : null, colour: i }));
    });
  }

  let cancelButton = null;
  function show() {
    fill(title.querySelector(".job-status"), statusTag(job.status));
    bar.set(job.progress);
    message.textContent = job.message ?? "";
    ending.textContent = sentence(job);
    ending.className = `ending ending-${job.status.toLowerCase()}`;
    fill(facts, [
      ["Status", words(job.status)],
      ["Epoch", job.epoch == null ? "–" : num(job.epoch)],
      ["Runner", words(job.runner)],
      ["Submitted by", job.submittedBy ?? "–"],
      ["Started", job.startedAt ? `${day(job.startedAt)}, ${ago(job.startedAt)}` : "not yet"],
      ["Finished", job.finishedAt ? ago(job.finishedAt) : "–"],
      ["Trains on", job.datasets.length ? job.datasets.map((d) => d.name).join(", ") : "–"],
    ].map(([k, v]) => h("div", {}, h("dt", {}, k), h("dd", {}, v))));
    const metrics = Object.entries(job.metrics ?? {});
    fill(latestBox, metrics.length === 0 ? h("p", { class: "muted" }, ENDED.has(job.status) ? "This job reported no metrics." : "No metrics reported yet.")
      : h("dl", { class: "facts metrics" }, metrics.map(([k, v]) => h("div", {}, h("dt", {}, k), h("dd", {}, typeof v === "number" ? num(v, 4) : String(v))))));
    const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 8;
    log.textContent = job.logTail.length ? job.logTail.join("\n") : "No log lines yet.";
    if (atBottom) log.scrollTop = log.scrollHeight;
    const running = !ENDED.has(job.status);
    if (running && canEdit() && !job.cancelRequested) {
      if (!cancelButton) {
        cancelButton = h("button", { type: "button", class: "danger", onclick: cancel }, "Cancel job");
        fill(actions, cancelButton);
      }
    } else {
      cancelButton = null;
      fill(actions, running && job.cancelRequested ? h("p", { class: "muted" }, "Cancel requested: the job stops once its runner sees it end.") : null);
    }
  }

  async function cancel() {
    cancelButton.disabled = true;
    try {
      job = (await gql(CANCEL, { id })).cancelTrainingJob;
      show();
    } catch (err) {
      cancelButton.disabled = false;
      page.error(err);
    }
  }

  show();
  drawCharts();

  // Reading the whole job again once it ends gives the stored history and the model version.
  let finalRead = false;
  const unsubscribe = subscribe(UPDATED, { id, after }, async ({ trainingJobUpdated: e }) => {
    if (e.kind === "DELETED") {
      ending.textContent = "This training job was deleted.";
      return;
    }
    const metricsChanged = JSON.stringify(e.metrics) !== JSON.stringify(job.metrics);
    job = { ...job, status: e.status, progress: e.progress, epoch: e.epoch, metrics: e.metrics, message: e.message,
      exitCode: e.exitCode, reason: e.reason, ...(e.job ?? {}) };
    if (metricsChanged && Object.keys(e.metrics ?? {}).length) {
      history = [...history.filter((p) => !(byEpoch && p.epoch === e.epoch && e.epoch != null)),
        { t: Date.parse(e.at) / 1000, epoch: e.epoch, metrics: e.metrics }];
      drawCharts();
    }
    show();
    if (ENDED.has(e.status) && !finalRead) {
      finalRead = true;
      try {
        const fresh = (await gql(JOB, { id })).trainingJob;
        if (fresh) {
          job = fresh;
          history = job.metricsHistory.map((p) => ({ t: Date.parse(p.at) / 1000, epoch: p.epoch, metrics: p.metrics ?? {} }));
          show();
          drawCharts();
        }
      } catch (err) {
        page.error(err);
      }
    }
  }, (err) => page.error(err));

  return () => {
    unsubscribe();
    for (const chart of charts.values()) chart.destroy();
    document.title = "Maestro Graph";
  };
}

/** How the job stands, in a sentence. */
function sentence(job) {
  const took = job.startedAt && job.finishedAt ? ` after ${duration((Date.parse(job.finishedAt) - Date.parse(job.startedAt)) / 1000)}` : "";
  const version = job.produced?.edges?.[0]?.node;
  switch (job.status) {
    case "PENDING": return "Waiting to start.";
    case "RUNNING": return "Running."; // the epoch is in the facts: this sentence is announced on each change
    case "SUCCEEDED": return `Succeeded${took}.${version ? ` It registered model version ${version.version}.` : ""}`;
    case "FAILED": return `Failed${took}${job.exitCode != null ? ` (exit code ${job.exitCode})` : ""}: ${job.reason ?? "no reason given."}`;
    case "CANCELLED": return `Cancelled${took}${job.reason ? `: ${job.reason}` : "."}`;
    default: return words(job.status);
  }
}

function duration(seconds) {
  if (!(seconds >= 0)) return "a while";
  if (seconds < 60) return `${Math.round(seconds)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
}
