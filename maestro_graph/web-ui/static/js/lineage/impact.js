// The impact panel: if the selected column or dataset changes, what breaks and who to tell.
// Totals per kind, columns and datasets by distance (each one lights up its path in the graph),
// models, deployments, projects and people; exported as CSV or JSON in the browser.
import { gql } from "../api.js";
import { fill, h, num } from "../dom.js";

export const IMPACT = `query Impact($id: ID!) {
  impactAnalysis(id: $id) {
    depth truncated
    root { id __typename ... on Field { name dataset { id name } } ... on Dataset { name namespace } }
    totals { fields datasets modelVersions models deployments projects people }
    fields { distance path node { id name type dataset { id name } } }
    datasets { distance path node { id name namespace } }
    modelVersions { distance path node { id version stage model { id name } } }
    models { distance path node { id name } }
    deployments { distance path node { id name environment status } }
    projects { distance path node { id name } }
    people { distance path node { id name email } }
  }
}`;

export const TOTALS = [
  ["fields", "columns"], ["datasets", "datasets"], ["modelVersions", "model versions"], ["models", "models"],
  ["deployments", "deployments"], ["projects", "projects"], ["people", "people"],
];

const hops = (d) => (d === 0 ? "Same dataset" : `${d} hop${d === 1 ? "" : "s"} downstream`);

export function rootName(root) {
  return root.__typename === "Field" && root.dataset ? `${root.dataset.name}.${root.name}` : root.name;
}

/** Every row of the report, flat: what the CSV holds. */
export function rows(report) {
  const out = [];
  const add = (kind, list, name, detail) => {
    for (const item of list) out.push({ kind, distance: item.distance, id: item.node.id, name: name(item.node), detail: detail(item.node), path: item.path.join(" > ") });
  };
  add("column", report.fields, (n) => (n.dataset ? `${n.dataset.name}.${n.name}` : n.name), (n) => n.type ?? "");
  add("dataset", report.datasets, (n) => n.name, (n) => n.namespace);
  add("model_version", report.modelVersions, (n) => `${n.model?.name ?? "model"} v${n.version}`, (n) => n.stage);
  add("model", report.models, (n) => n.name, () => "");
  add("deployment", report.deployments, (n) => n.name, (n) => `${n.environment} ${n.status}`);
  add("project", report.projects, (n) => n.name, () => "");
  add("person", report.people, (n) => n.name, (n) => n.email);
  return out;
}

function csvCell(value) {
  const text = String(value ?? "");
  // A cell starting with = + - @ would run as a formula in a spreadsheet: quote it as text.
  const safe = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export function toCsv(report) {
  const head = ["kind", "distance", "id", "name", "detail", "path"];
  return [head.join(","), ...rows(report).map((r) => head.map((k) => csvCell(r[k])).join(","))].join("\r\n") + "\r\n";
}

function fileName(report, ext) {
  const stem = rootName(report.root).replace(/[^A-Za-z0-9._-]+/g, "_").slice(0, 80) || "node";
  return `impact-${stem}-${new Date().toISOString().slice(0, 10)}.${ext}`;
}

function download(name, type, text) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h("a", { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

function list(title, items, item, empty) {
  return h("section", { class: "impact-list" },
    h("h3", {}, title, h("span", { class: "muted" }, ` (${num(items.length)})`)),
    items.length ? h("ul", {}, items.map(item)) : h("p", { class: "muted" }, empty));
}

/**
 * Fill `panel` with the impact of `id`. onPath(path ids | null) lights a path up in the graph.
 * Returns a function that drops a late answer (the selection moved on).
 */
export function showImpact(panel, id, { onPath, page }) {
  let live = true;
  fill(panel, h("h2", { id: "impact-title" }, "Impact"), h("p", { class: "muted", role: "status" }, "Working out what this change reaches…"));
  gql(IMPACT, { id }).then(({ impactAnalysis: report }) => {
    if (live) render(panel, report, onPath);
  }).catch((err) => {
    if (!live) return;
    fill(panel, h("h2", { id: "impact-title" }, "Impact"), h("p", { class: "muted" }, "The impact analysis did not run."));
    page.error(err);
  });
  return () => { live = false; };
}

function render(panel, report, onPath) {
  let lit = null; // the button whose path is lit
  const pathButton = (item, label) => h("button", {
    type: "button", class: "link path-button", "aria-pressed": "false", title: "Show its path in the graph",
    onclick: (event) => {
      const button = event.currentTarget;
      if (lit) lit.setAttribute("aria-pressed", "false");
      if (lit === button) {
        lit = null;
        onPath(null);
        return;
      }
      lit = button;
      button.setAttribute("aria-pressed", "true");
      onPath(item.path);
    },
  }, label);

  const reached = [...report.fields.map((f) => ({ ...f, what: "column" })), ...report.datasets.map((d) => ({ ...d, what: "dataset" }))];
  const byDistance = new Map();
  for (const item of reached.sort((a, b) => a.distance - b.distance)) {
    if (!byDistance.has(item.distance)) byDistance.set(item.distance, []);
    byDistance.get(item.distance).push(item);
  }
  const distances = [...byDistance.entries()].map(([d, items]) => h("section", { class: "impact-hop" },
    h("h4", {}, hops(d)),
    h("ul", {}, items.map((item) => h("li", {},
      h("span", { class: `tag kind-${item.what}` }, item.what),
      pathButton(item, item.what === "column" && item.node.dataset ? `${item.node.dataset.name}.${item.node.name}` : item.node.name))))));

  const totals = h("div", { class: "impact-totals", role: "list", "aria-label": "Totals" },
    TOTALS.map(([key, label]) => h("div", { class: "tile", role: "listitem", dataset: { total: key } },
      h("span", { class: "tile-n" }, num(report.totals[key])), h("span", { class: "tile-label" }, label))));

  fill(panel,
    h("h2", { id: "impact-title" }, "Impact of changing ", h("span", { class: "impact-root" }, rootName(report.root))),
    report.truncated ? h("p", { class: "warn" }, "The walk stopped at its limit: these lists are incomplete.") : null,
    totals,
    h("div", { class: "impact-actions" },
      h("button", { type: "button", class: "secondary", onclick: () => download(fileName(report, "csv"), "text/csv", toCsv(report)) }, "Export CSV"),
      h("button", { type: "button", class: "secondary", onclick: () => download(fileName(report, "json"), "application/json", JSON.stringify(report, null, 2)) }, "Export JSON")),
    h("section", { class: "impact-list" },
      h("h3", {}, "Columns and datasets by distance"),
      reached.length ? [h("p", { class: "muted small" }, "Choose one to light up its path in the graph."), distances]
        : h("p", { class: "muted" }, "Nothing downstream reads it.")),
    list("Models", report.models, (m) => h("li", {}, m.node.name), "No model is trained on it."),
    list("Model versions", report.modelVersions, (v) => h("li", {}, `${v.node.model?.name ?? "model"} v${v.node.version} `,
      h("span", { class: "tag" }, v.node.stage.toLowerCase())), "No model version uses it."),
    list("Deployments", report.deployments, (d) => h("li", {}, d.node.name, " ",
      h("span", { class: "tag" }, d.node.environment), h("span", { class: "muted" }, ` ${d.node.status.toLowerCase()}`)), "No deployment serves it."),
    list("Projects", report.projects, (p) => h("li", {}, h("a", { href: `#/project/${encodeURIComponent(p.node.id)}` }, p.node.name)), "No project owns what it reaches."),
    list("People to notify", report.people, (p) => h("li", {}, p.node.name, " ",
      h("a", { href: `mailto:${p.node.email}` }, p.node.email)), "Nobody to tell."));
}
