// A project: what it is, who works on it, what it reuses, its process metrics over time (live),
// the meta-model's latest prediction with what drives it, and what the meta-model recommends.
import { gql, subscribe } from "../api.js";
import { fill, h, num } from "../dom.js";
import { canEdit, day, guarded, lineChart, progressBar, statusTag, words } from "../projects/common.js";

const PROJECT = `query($id: ID!) { node(id: $id) { __typename ... on Project {
  id name problemClass complexityScore teamSize status startedAt finishedAt successScore durationDays cost description
  members(first: 100) { totalCount edges { role node { id name email } } }
  artifacts(first: 100) { totalCount edges { impactScore at node { id name type version } } }
  trainingJobs(first: 10) { totalCount edges { node { id name status progress updatedAt } } }
} } }`;

const PAGE_OF_METRICS = `query($id: ID!, $after: String) { node(id: $id) { ... on Project {
  metrics(first: 100, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node { id type value at } } } } } }`;

const PREDICTION_FIELDS = "id target value lower upper modelVersion inputs explanation createdAt";
const PREDICTIONS = `query($id: ID!, $after: String) { node(id: $id) { ... on Project {
  predictions(first: 100, after: $after) { pageInfo { hasNextPage endCursor } edges { node { ${PREDICTION_FIELDS} } } } } } }`;
const PREDICT = `mutation($id: ID!) { predictProject(projectId: $id) { modelVersion predictions { ${PREDICTION_FIELDS} } } }`;

const OUTCOME = "value lower upper";
const RECOMMEND = `query($id: ID!) {
  recommendTeamSize(projectId: $id) { best modelVersion options { teamSize successScore { ${OUTCOME} } durationDays { ${OUTCOME} } } }
  recommendArtifacts(projectId: $id, first: 5) { uplift successScore why { feature contribution } artifact { id name type version } } }`;

const METRIC_RECORDED = `subscription($id: ID!) { metricRecorded(projectId: $id) { cursor metric { id type value at } } }`;

// The metric pages a chart reads at most (100 each): a longer series shows its first 5,000 points.
const MAX_METRIC_PAGES = 50;
const TARGETS = [
  { target: "SUCCESS_SCORE", title: "Success score", unit: " / 100", digits: 1 },
  { target: "DURATION_DAYS", title: "Duration", unit: " days", digits: 1 },
  { target: "COST", title: "Cost", unit: "", digits: 0 },
];
const TOP_DRIVERS = 5;
const MAX_IMPACT = 10; // a USES impact score runs from 0 to 10

export const render = guarded(async (root, params, page, left) => {
  const id = params[0];
  if (!id) {
    fill(root, h("p", {}, "Open a project from the search to see its page."));
    return;
  }
  const stops = [];
  // Subscribed before the metrics are read (metricRecorded has no cursor to resume from): what
  // is recorded meanwhile waits here, and a metric both read and heard is drawn once.
  let charts = null;
  const heard = [];
  stops.push(subscribe(METRIC_RECORDED, { id }, (d) => {
    const metric = d.metricRecorded.metric;
    if (!metric) return;
    if (charts) charts.add(metric);
    else heard.push(metric);
  }, (err) => page.error(err)));
  stops.push(() => { document.title = "Maestro Graph"; });
  const stopAll = () => stops.forEach((stop) => stop());
  try {
    return await build(root, id, page, stops, heard, (c) => { charts = c; }, left);
  } catch (err) {
    stopAll();
    throw err;
  }
});

async function build(root, id, page, stops, heard, ready, left) {
  const data = await gql(PROJECT, { id });
  if (left()) return () => stops.forEach((stop) => stop());
  const project = data.node;
  if (!project || project.__typename !== "Project") {
    fill(root, h("h1", {}, "No such project"), h("p", {}, "There is no project with this id in your tenant."));
    return () => stops.forEach((stop) => stop());
  }
  document.title = `${project.name} · Maestro Graph`;

  const metricsBox = h("div", { class: "metric-charts" }, h("p", { class: "muted" }, "Loading process metrics…"));
  const predictionBox = h("div", {}, h("p", { class: "muted" }, "Loading the meta-model's prediction…"));
  const recommendBox = h("div", {}, h("p", { class: "muted" }, "Loading recommendations…"));
  fill(root, h("article", { class: "project-page" },
    header(project),
    h("div", { class: "grid" }, members(project), artifacts(project)),
    h("section", { class: "card", "aria-labelledby": "metrics-h" },
      h("h2", { id: "metrics-h" }, "Process metrics over time"), metricsBox),
    h("div", { class: "grid" },
      h("section", { class: "card", "aria-labelledby": "prediction-h" }, h("h2", { id: "prediction-h" }, "Meta-model prediction"), predictionBox),
      h("section", { class: "card", "aria-labelledby": "recommend-h" }, h("h2", { id: "recommend-h" }, "Recommendations"), recommendBox)),
    trainingJobs(project)));

  const charts = await metricCharts(metricsBox, id);
  stops.push(() => charts.destroy());
  heard.splice(0).forEach((m) => charts.add(m));
  ready(charts);

  await metaModelParts(predictionBox, recommendBox, id, page);
  return () => stops.forEach((stop) => stop());
}

function header(p) {
  const facts = [
    ["Problem class", words(p.problemClass)],
    ["Complexity", `${p.complexityScore} / 10`],
    ["Team size", num(p.teamSize)],
    ["Started", day(p.startedAt)],
    ["Finished", day(p.finishedAt)],
    ["Success score", p.successScore == null ? "–" : `${num(p.successScore, 1)} / 100`],
    ["Duration", p.durationDays == null ? "–" : `${num(p.durationDays, 1)} days`],
    ["Cost", num(p.cost, 0)],
  ];
  return h("header", { class: "project-head" },
    h("div", { class: "title-row" }, h("h1", {}, p.name), statusTag(p.status)),
    p.description ? h("p", { class: "muted" }, p.description) : null,
    h("dl", { class: "facts" }, facts.map(([k, v]) => h("div", {}, h("dt", {}, k), h("dd", {}, v)))));
}

function members(p) {
  const list = p.members.edges;
  return h("section", { class: "card", "aria-labelledby": "members-h" },
    h("h2", { id: "members-h" }, `Members (${p.members.totalCount})`),
    list.length === 0 ? h("p", { class: "muted" }, "No members recorded for this project yet.")
      : h("ul", { class: "members" }, list.map((e) => h("li", {},
        h("details", {},
          h("summary", {}, h("span", { class: "member-name" }, e.node.name), " ", h("span", { class: "tag" }, e.role)),
          h("p", { class: "member-detail" }, h("a", { href: `mailto:${e.node.email}` }, e.node.email)))))),
    more(p.members, "members"));
}

function artifacts(p) {
  const list = [...p.artifacts.edges].sort((a, b) => b.impactScore - a.impactScore);
  return h("section", { class: "card", "aria-labelledby": "artifacts-h" },
    h("h2", { id: "artifacts-h" }, `Artifacts used (${p.artifacts.totalCount})`),
    list.length === 0 ? h("p", { class: "muted" }, "This project uses no recorded artifacts yet.")
      : h("table", { class: "artifacts" },
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Artifact"), h("th", { scope: "col" }, "Type"), h("th", { scope: "col" }, "Impact score"))),
        h("tbody", {}, list.map((e) => h("tr", {},
          h("td", {}, h("span", { class: "artifact-name" }, e.node.name), e.node.version ? h("span", { class: "muted" }, ` ${e.node.version}`) : null),
          h("td", {}, words(e.node.type)),
          h("td", { class: "impact" }, h("span", { class: "impact-value" }, num(e.impactScore, 2)),
            h("span", { class: "impact-bar", "aria-hidden": "true" }, h("span", { style: `width:${Math.max(0, Math.min(MAX_IMPACT, e.impactScore)) * (100 / MAX_IMPACT)}%` }))))))),
    more(p.artifacts, "artifacts"));
}

function more(connection, what) {
  return connection.totalCount > connection.edges.length
    ? h("p", { class: "muted" }, `Showing ${connection.edges.length} of ${num(connection.totalCount)} ${what}.`) : null;
}

function trainingJobs(p) {
  const list = p.trainingJobs.edges;
  return h("section", { class: "card", "aria-labelledby": "pjobs-h" },
    h("h2", { id: "pjobs-h" }, `Training jobs (${p.trainingJobs.totalCount})`),
    list.length === 0 ? h("p", { class: "muted" }, "No training jobs in this project yet.")
      : h("ul", { class: "project-jobs" }, list.map((e) => h("li", {},
        h("a", { href: `#/jobs/${encodeURIComponent(e.node.id)}` }, e.node.name), " ", statusTag(e.node.status),
        progressBar(`Progress of ${e.node.name}`, e.node.progress)))),
    h("p", {}, h("a", { href: `#/jobs/project/${encodeURIComponent(p.id)}` }, "All training jobs of this project")));
}

// ---- process metrics: one small chart per metric type, updated as metrics are recorded

async function metricCharts(box, id) {
  const series = new Map(); // type -> [{id, t, value}]
  const seen = new Set();
  let after = null;
  let total = 0;
  for (let n = 0; n < MAX_METRIC_PAGES; n++) {
    const page = (await gql(PAGE_OF_METRICS, { id, after })).node.metrics;
    total = page.totalCount;
    for (const { node } of page.edges) put(node);
    if (!page.pageInfo.hasNextPage) break;
    after = page.pageInfo.endCursor;
  }
  const charts = new Map(); // type -> {chart, caption}
  const grid = h("div", { class: "chart-grid" });
  const note = h("p", { class: "muted" });

  function put(m) {
    if (seen.has(m.id)) return false;
    seen.add(m.id);
    const points = series.get(m.type) ?? [];
    points.push({ t: Date.parse(m.at) / 1000, value: m.value });
    points.sort((a, b) => a.t - b.t);
    series.set(m.type, points);
    return true;
  }
  function caption(type) {
    const points = series.get(type);
    const last = points[points.length - 1];
    return `latest ${num(last.value)} · ${points.length} ${points.length === 1 ? "value" : "values"}`;
  }
  function draw(type) {
    const points = series.get(type);
    const xs = points.map((p) => p.t);
    const ys = points.map((p) => p.value);
    const known = charts.get(type);
    if (known) {
      known.chart.set(xs, ys);
      known.caption.textContent = caption(type);
      return;
    }
    const cap = h("span", { class: "chart-caption muted" }, caption(type));
    const plot = h("div", { class: "chart", role: "img", "aria-label": `${words(type)} over time` });
    const figure = h("figure", { class: "metric-chart", dataset: { metric: type } },
      h("figcaption", {}, h("strong", {}, words(type)), " ", cap), plot);
    const order = [...series.keys()].sort();
    const before = [...grid.children].find((f) => f.dataset.metric > type);
    grid.insertBefore(figure, before ?? null);
    charts.set(type, { caption: cap, chart: lineChart(plot, { label: words(type), xs, ys, colour: order.indexOf(type) }) });
  }
  function shown() {
    note.textContent = series.size === 0 ? "No process metrics recorded for this project yet; they appear here as they are recorded."
      : total > seen.size ? `Showing the first ${num(seen.size)} of ${num(total)} recorded values.` : "";
  }

  fill(box, note, grid);
  for (const type of [...series.keys()].sort()) draw(type);
  shown();
  return {
    add(metric) {
      if (!put(metric)) return;
      total += 1;
      draw(metric.type);
      shown();
    },
    destroy() { for (const { chart } of charts.values()) chart.destroy(); },
  };
}

// ---- the meta-model: the stored prediction, "Predict now", recommendations

async function storedPredictions(id) {
  const all = [];
  let after = null;
  for (;;) {
    const page = (await gql(PREDICTIONS, { id, after })).node.predictions;
    all.push(...page.edges.map((e) => e.node));
    if (!page.pageInfo.hasNextPage) return all;
    after = page.pageInfo.endCursor;
  }
}

/** Each target's newest stored prediction. */
function latest(predictions) {
  const out = new Map();
  for (const p of predictions) {
    const known = out.get(p.target);
    if (!known || Date.parse(p.createdAt) > Date.parse(known.createdAt)) out.set(p.target, p);
  }
  return out;
}

async function metaModelParts(predictionBox, recommendBox, id, page) {
  let model = null;
  try {
    model = (await gql("{ metaModel { version trainedAt trainingSize } }")).metaModel;
  } catch (err) {
    if (err.code !== "NOT_FOUND") throw err;
  }
  const stored = latest(await storedPredictions(id));
  const noModel = "No meta-model has been trained in this tenant yet, so it cannot predict or recommend. "
    + "It learns from finished projects: once the tenant has at least 20, an editor trains it (trainMetaModel).";

  const body = h("div");
  const showPrediction = (byTarget) => {
    if (byTarget.size === 0) {
      fill(body, h("p", { class: "muted" }, model ? "No prediction stored for this project yet." : ""));
      return;
    }
    fill(body, prediction(byTarget));
  };
  showPrediction(stored);

  let button = null;
  if (model && canEdit()) {
    button = h("button", { type: "button", onclick: async () => {
      button.disabled = true;
      button.textContent = "Predicting…";
      try {
        const answer = (await gql(PREDICT, { id })).predictProject;
        showPrediction(latest(answer.predictions));
      } catch (err) {
        page.error(err);
      } finally {
        button.disabled = false;
        button.textContent = "Predict now";
      }
    } }, "Predict now");
  }
  fill(predictionBox,
    model ? h("p", { class: "muted" }, `Meta-model v${model.version}, trained ${day(model.trainedAt)} on ${num(model.trainingSize)} finished projects.`)
      : h("p", { class: "no-model" }, noModel),
    body, button);

  if (!model) {
    fill(recommendBox, h("p", { class: "muted" }, "Recommendations need a trained meta-model (see the prediction)."));
    return;
  }
  try {
    const r = await gql(RECOMMEND, { id });
    fill(recommendBox, teamSize(r.recommendTeamSize), recommendedArtifacts(r.recommendArtifacts));
  } catch (err) {
    fill(recommendBox, h("p", { class: "muted" }, "No recommendations could be made."));
    page.error(err);
  }
}

function format(value, digits) {
  return num(value, digits);
}

function prediction(byTarget) {
  const when = [...byTarget.values()].map((p) => p.createdAt).sort().pop();
  const version = [...byTarget.values()][0]?.modelVersion;
  return h("div", { class: "prediction" },
    h("p", { class: "muted" }, `Predicted ${day(when)}${version ? ` by ${version}` : ""}; each with its 80% interval (about 8 in 10 outcomes fall inside).`),
    h("div", { class: "outcomes" }, TARGETS.filter((t) => byTarget.has(t.target)).map((t) => outcome(t, byTarget.get(t.target)))),
    TARGETS.filter((t) => byTarget.has(t.target)).map((t) => drivers(t, byTarget.get(t.target))));
}

function outcome(t, p) {
  const interval = p.lower != null && p.upper != null
    ? `80% interval ${format(p.lower, t.digits)} – ${format(p.upper, t.digits)}${t.unit}` : "no interval";
  return h("section", { class: "outcome", dataset: { target: p.target } },
    h("h3", {}, t.title),
    h("p", { class: "outcome-value" }, h("span", { class: "value" }, format(p.value, t.digits)), t.unit),
    h("p", { class: "interval" }, interval));
}

/** The features that move one prediction most, as signed bars (the sign is written too). */
function drivers(t, p) {
  const contributions = Object.entries(p.explanation ?? {})
    .filter(([, c]) => typeof c === "number")
    .sort((a, b) => Math.abs(b[1]) - Math.abs(a[1]));
  if (contributions.length === 0) return null;
  const top = contributions.slice(0, TOP_DRIVERS);
  const biggest = Math.max(1e-9, ...top.map(([, c]) => Math.abs(c)));
  const inputs = p.inputs ?? {};
  return h("details", { class: "drivers", open: t.target === "SUCCESS_SCORE", dataset: { target: p.target } },
    h("summary", {}, `What drives the ${t.title.toLowerCase()}`),
    h("ul", {}, top.map(([feature, c]) => h("li", { class: c >= 0 ? "up" : "down" },
      h("span", { class: "feature" }, words(feature), inputs[feature] != null ? h("span", { class: "muted" }, ` = ${num(inputs[feature])}`) : null),
      h("span", { class: "bar", "aria-hidden": "true" }, h("span", { style: `width:${(Math.abs(c) / biggest) * 100}%` })),
      h("span", { class: "contribution" }, `${c >= 0 ? "+" : "−"}${num(Math.abs(c), t.digits === 0 ? 0 : 2)}`)))),
    contributions.length > TOP_DRIVERS ? h("p", { class: "muted" }, `and ${contributions.length - TOP_DRIVERS} smaller contributions.`) : null);
}

function teamSize(r) {
  const rows = r.options;
  return h("div", { class: "team-size" },
    h("h3", {}, "Team size"),
    h("p", {}, "Best team size: ", h("strong", { class: "best-size" }, String(r.best)),
      " (the highest predicted success score, the rest of the project as it is)."),
    h("table", { class: "sizes" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "People"), h("th", { scope: "col" }, "Success score (80%)"), h("th", { scope: "col" }, "Duration, days"))),
      h("tbody", {}, rows.map((o) => h("tr", { class: o.teamSize === r.best ? "best" : null },
        h("td", {}, String(o.teamSize), o.teamSize === r.best ? h("span", { class: "tag" }, "best") : null),
        h("td", {}, `${num(o.successScore.value, 1)} `, h("span", { class: "muted" }, `(${num(o.successScore.lower, 1)}–${num(o.successScore.upper, 1)})`)),
        h("td", {}, num(o.durationDays.value, 1)))))));
}

function recommendedArtifacts(list) {
  return h("div", { class: "recommended" },
    h("h3", {}, "Artifacts to reuse"),
    list.length === 0 ? h("p", { class: "muted" }, "Nothing to recommend: no artifact this project does not use yet is predicted to help.")
      : h("ol", {}, list.map((r) => h("li", {},
        h("span", { class: "artifact-name" }, r.artifact.name), " ", h("span", { class: "muted" }, words(r.artifact.type)), " ",
        h("span", { class: r.uplift >= 0 ? "uplift up" : "uplift down" }, `${r.uplift >= 0 ? "+" : "−"}${num(Math.abs(r.uplift), 1)} success`),
        r.why.length ? h("div", { class: "muted why" }, "why: ", r.why.slice(0, 3).map((w) => `${words(w.feature)} ${w.contribution >= 0 ? "+" : "−"}${num(Math.abs(w.contribution), 1)}`).join(", ")) : null))));
}
