// Search (#/?q=text): one box over datasets, columns, jobs, projects, artifacts and models, as you
// type. The text lives in the URL, so Back from a result returns to the same results.
import { gql } from "../api.js";
import { fill, h, num } from "../dom.js";

const SEARCH = `query Search($text: String!, $first: Int!) {
  search(text: $text, first: $first) {
    totals { kind count }
    hits {
      kind name
      dataset { id name namespace }
      node {
        id
        ... on Dataset { namespace description }
        ... on Field { columnType: type path description }
        ... on Job { namespace jobType outputs(first: 3) { totalCount edges { node { id name } } } }
        ... on Project { problemClass status successScore }
        ... on Artifact { artifactType: type version impactScore usageCount }
        ... on Model { description versions(first: 1) { totalCount } }
      }
    }
  }
}`;

const PER_KIND = 20;
const DEBOUNCE_MS = 250;

// Group headings, in the order the server groups hits.
const KINDS = {
  DATASET: ["Datasets", "dataset", "datasets"],
  FIELD: ["Columns", "column", "columns"],
  JOB: ["Jobs", "job", "jobs"],
  PROJECT: ["Projects", "project", "projects"],
  ARTIFACT: ["Artifacts", "artifact", "artifacts"],
  MODEL: ["Models", "model", "models"],
};

const isSearch = (hash) => /^(#\/?)?(\?.*)?$/.test(hash);

/** The search text the URL holds: #/?q=orders -> "orders". */
export function queryText(hash = location.hash) {
  if (!isSearch(hash)) return "";
  const at = hash.indexOf("?");
  return at < 0 ? "" : (new URLSearchParams(hash.slice(at + 1)).get("q") ?? "");
}

export const lineageHref = (id) => `#/lineage/${encodeURIComponent(id)}`;

function hitItem(hit) {
  const n = hit.node;
  switch (hit.kind) {
    case "DATASET":
      return h("li", {},
        h("a", { href: lineageHref(n.id) }, hit.name),
        h("span", { class: "muted" }, ` ${n.namespace}`),
        n.description ? h("div", { class: "hit-more" }, n.description) : null);
    case "FIELD":
      return h("li", {},
        h("a", { href: lineageHref(n.id) }, hit.name),
        hit.dataset ? h("span", { class: "muted" }, " in ", hit.dataset.name) : null,
        n.columnType ? h("span", { class: "tag" }, n.columnType) : null,
        n.description ? h("div", { class: "hit-more" }, n.description) : null);
    case "PROJECT":
      return h("li", {},
        h("a", { href: `#/project/${encodeURIComponent(n.id)}` }, hit.name),
        h("span", { class: "tag" }, n.problemClass.toLowerCase().replace(/_/g, " ")),
        h("span", { class: "muted" }, ` ${n.status.toLowerCase()}`,
          n.successScore !== null ? ` · success ${num(n.successScore, 0)}` : ""));
    case "JOB": {
      const outputs = n.outputs.edges.map((e) => e.node);
      return h("li", {},
        h("span", { class: "hit-name" }, hit.name),
        h("span", { class: "muted" }, ` ${n.namespace}`),
        n.jobType ? h("span", { class: "tag" }, n.jobType) : null,
        outputs.length
          ? h("div", { class: "hit-more" }, "writes ",
            outputs.map((d, i) => [i ? ", " : "", h("a", { href: lineageHref(d.id) }, d.name)]),
            n.outputs.totalCount > outputs.length ? ` and ${num(n.outputs.totalCount - outputs.length)} more` : "")
          : h("div", { class: "hit-more muted" }, "writes no dataset yet"));
    }
    case "ARTIFACT":
      return h("li", {},
        h("span", { class: "hit-name" }, hit.name),
        h("span", { class: "tag" }, n.artifactType.toLowerCase().replace(/_/g, " ")),
        h("span", { class: "muted" }, ` v${n.version} · impact ${num(n.impactScore, 1)} · used by ${num(n.usageCount)} project${n.usageCount === 1 ? "" : "s"}`));
    case "MODEL":
      return h("li", {},
        h("span", { class: "hit-name" }, hit.name),
        h("span", { class: "muted" }, ` ${num(n.versions.totalCount)} version${n.versions.totalCount === 1 ? "" : "s"}`),
        n.description ? h("div", { class: "hit-more" }, n.description) : null);
    default:
      return h("li", {}, hit.name);
  }
}

function results(found) {
  const byKind = new Map(found.totals.map((t) => [t.kind, []]));
  for (const hit of found.hits) byKind.get(hit.kind)?.push(hit);
  const groups = [];
  for (const { kind, count } of found.totals) {
    const hits = byKind.get(kind);
    if (!hits.length) continue;
    const [title] = KINDS[kind] ?? [kind];
    const shown = count > hits.length ? ` (first ${num(hits.length)} of ${num(count)})` : ` (${num(count)})`;
    groups.push(h("section", { class: "card hits", "aria-labelledby": `hits-${kind}` },
      h("h2", { id: `hits-${kind}` }, title, h("span", { class: "muted" }, shown)),
      h("ul", {}, hits.map(hitItem))));
  }
  return groups;
}

function summary(found, text) {
  const parts = found.totals.filter((t) => t.count).map((t) => {
    const [, one, many] = KINDS[t.kind] ?? [t.kind, t.kind, t.kind];
    return `${num(t.count)} ${t.count === 1 ? one : many}`;
  });
  return parts.length ? `Found ${parts.join(", ")} for “${text}”.` : `Nothing is named like “${text}”: try part of a name.`;
}

export async function render(root, _params, page) {
  const initial = queryText();
  const input = h("input", { id: "q", type: "search", value: initial, autocomplete: "off", spellcheck: "false",
    placeholder: "e.g. orders, amount_usd, churn", "aria-describedby": "q-help" });
  const status = h("p", { class: "muted", id: "search-status", role: "status", "aria-live": "polite" });
  const list = h("div", { class: "search-results" });
  let timer = null;
  let asked = 0; // answers to older keystrokes arriving late are dropped

  async function run(text) {
    clearTimeout(timer);
    const wanted = text.trim();
    const hash = wanted ? `#/?q=${encodeURIComponent(wanted)}` : "#/";
    if (!isSearch(location.hash)) return; // the person has moved on to another view
    if (location.hash !== hash) history.replaceState(null, "", hash);
    const mine = ++asked;
    if (!wanted) {
      fill(status, "Type part of a name: datasets, columns, jobs, projects, artifacts and models are searched.");
      list.replaceChildren();
      return;
    }
    fill(status, `Searching for “${wanted}”…`);
    try {
      const data = await gql(SEARCH, { text: wanted, first: PER_KIND });
      if (mine !== asked) return;
      page.clear();
      fill(status, summary(data.search, wanted));
      fill(list, results(data.search));
    } catch (err) {
      if (mine !== asked) return;
      fill(status, "The search did not run.");
      list.replaceChildren();
      page.error(err);
    }
  }

  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => run(input.value), DEBOUNCE_MS);
  });
  const form = h("form", { class: "search-form", role: "search", onsubmit: (event) => { event.preventDefault(); run(input.value); } },
    h("label", { for: "q" }, "Search by name"),
    h("div", { class: "search-row" }, input, h("button", { type: "submit" }, "Search")),
    h("p", { id: "q-help", class: "muted" }, "Datasets, columns, jobs, projects, artifacts and models. Results update as you type."));
  root.replaceChildren(h("h1", {}, "Search"), form, status, list);
  run(initial);
  setTimeout(() => input.focus(), 0); // after the router has focused the view
  return () => { clearTimeout(timer); asked += 1; };
}
