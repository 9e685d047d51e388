// Lineage (#/lineage/<id>?granularity=FIELD&direction=BOTH&depth=3): the graph around a column or
// dataset, an accessible list of the same nodes and edges, the selection's details and impact, and
// live updates while the view is open.
import { gql, subscribe } from "../api.js";
import { fill, h, num } from "../dom.js";
import { BIG, DATASET_EDGE, OTHER_SUBTYPE, SUBTYPES, createGraph } from "../lineage/graph.js";
import { showImpact } from "../lineage/impact.js";

const LINEAGE = `query Lineage($id: ID!, $direction: LineageDirection!, $depth: Int!, $granularity: Granularity!, $limit: Int!) {
  node(id: $id) { id __typename ... on Field { name type dataset { id name } } ... on Dataset { name namespace } }
  lineage(id: $id, direction: $direction, depth: $depth, granularity: $granularity, limit: $limit) {
    truncated
    root { id }
    nodes { distance node { id __typename
      ... on Dataset { name namespace }
      ... on Field { name type dataset { id name } } } }
    edges { sourceId targetId relationship transformationType transformationSubtype description job }
  }
}`;

// A walk's answer is priced per item of \`limit\` (resolvers/limits.py): the drawing asks for what it
// draws, and the selected node's description when it is selected.
const DESCRIPTION = `query Description($id: ID!) { node(id: $id) { id ... on Field { description } ... on Dataset { description } } }`;

const CHANGED = `subscription Changed($id: ID!) { lineageChanged(datasetId: $id) { cursor } }`;

export const LIMIT = 2000;
const MAX_WATCHED = 40; // datasets watched live (the closest to the root); a socket allows 100 subscriptions
const LIST_FIRST = 200; // list items shown before "Show all"
const REFRESH_MS = 300; // changes arriving together refresh once

const DIRECTIONS = { UPSTREAM: "Upstream", DOWNSTREAM: "Downstream", BOTH: "Both ways" };
const GRANULARITIES = { FIELD: "Columns", DATASET: "Datasets" };

/** What the URL asks for: #/lineage/<id>?granularity=&direction=&depth= */
function wanted() {
  const rest = location.hash.replace(/^#\/?lineage\//, "");
  const at = rest.indexOf("?");
  const id = decodeURIComponent(at < 0 ? rest : rest.slice(0, at));
  const q = new URLSearchParams(at < 0 ? "" : rest.slice(at + 1));
  const depth = Math.min(10, Math.max(1, Number.parseInt(q.get("depth") ?? "3", 10) || 3));
  let granularity = q.get("granularity");
  if (!GRANULARITIES[granularity]) granularity = kindOf(id) === "Dataset" ? "DATASET" : "FIELD";
  const direction = DIRECTIONS[q.get("direction")] ? q.get("direction") : "BOTH";
  return { id, granularity, direction, depth };
}

/** A global id's type name (ids are base64 "Type:uuid"), or null. */
function kindOf(id) {
  try {
    return atob(id).split(":")[0];
  } catch {
    return null;
  }
}

function hashOf(s) {
  return `#/lineage/${encodeURIComponent(s.id)}?granularity=${s.granularity}&direction=${s.direction}&depth=${s.depth}`;
}

const edgeKey = (e) => `${e.relationship}:${e.sourceId}>${e.targetId}`;

function toNode(entry, distance) {
  const n = entry.node;
  return { id: n.id, kind: n.__typename, name: n.name, type: n.type ?? null, description: n.description ?? null,
    namespace: n.namespace ?? null, dataset: n.dataset ?? null, distance };
}

function nodeName(n) {
  return n.kind === "Field" && n.dataset ? `${n.dataset.name}.${n.name}` : n.name;
}

function where(distance) {
  if (distance === 0) return "the starting point";
  return `${Math.abs(distance)} hop${Math.abs(distance) === 1 ? "" : "s"} ${distance < 0 ? "upstream" : "downstream"}`;
}

export async function render(root, _params, page) {
  const s = wanted();
  const state = { nodes: new Map(), edges: new Map(), expanded: new Set(), rootId: null, selected: null, truncated: false };
  const watching = new Map(); // dataset id -> unsubscribe
  let stopImpact = () => {};
  let refreshTimer = null;
  let gone = false;
  let loads = 0;

  // -- the page's parts -----------------------------------------------------------------------
  const title = h("h1", {}, "Lineage");
  const subtitle = h("p", { class: "muted lineage-sub" });
  const status = h("p", { class: "lineage-status", role: "status", "aria-live": "polite" }, "Loading the lineage…");
  const select = (id, label, options, value) => [
    h("label", { for: id }, label),
    h("select", { id }, Object.entries(options).map(([k, v]) => h("option", { value: k, selected: k === value }, v))),
  ];
  const [gLabel, gSelect] = select("granularity", "Granularity", GRANULARITIES, s.granularity);
  const [dLabel, dSelect] = select("direction", "Direction", DIRECTIONS, s.direction);
  const depthInput = h("input", { id: "depth", type: "number", min: 1, max: 10, step: 1, value: s.depth, inputmode: "numeric" });
  const controls = h("form", { class: "lineage-controls", "aria-label": "Lineage controls", onsubmit: (e) => { e.preventDefault(); changed(); } },
    h("div", {}, gLabel, gSelect), h("div", {}, dLabel, dSelect),
    h("div", {}, h("label", { for: "depth" }, "Depth (1–10)"), depthInput),
    h("div", { class: "lineage-buttons" },
      h("button", { type: "button", class: "secondary", onclick: () => graph.fit() }, "Fit to view"),
      h("button", { type: "button", class: "secondary", onclick: () => refresh() }, "Reload")));
  for (const el of [gSelect, dSelect, depthInput]) el.addEventListener("change", () => changed());

  const canvas = h("div", { class: "lineage-canvas", role: "img", "aria-label": "Lineage graph; the same nodes and edges are listed below it" });
  const legend = h("div", { class: "lineage-legend", "aria-label": "Legend" },
    h("span", { class: "legend-item" }, h("span", { class: "legend-line solid" }), "direct"),
    h("span", { class: "legend-item" }, h("span", { class: "legend-line dashed" }), "indirect"),
    Object.entries(SUBTYPES).map(([name, colour]) => h("span", { class: "legend-item" }, sample(colour), name.toLowerCase().replace(/_/g, " "))),
    h("span", { class: "legend-item" }, sample(OTHER_SUBTYPE), "other"),
    h("span", { class: "legend-item" }, sample(DATASET_EDGE), "dataset feeds dataset"),
    h("span", { class: "legend-hint muted" }, "Double-click a node to expand it."));
  const details = h("section", { class: "card lineage-details", "aria-labelledby": "details-title" },
    h("h2", { id: "details-title" }, "Selected"), h("p", { class: "muted" }, "Choose a node or an edge in the graph or the list."));
  const impact = h("section", { class: "card lineage-impact", "aria-labelledby": "impact-title", id: "impact" });
  const nodeList = h("div", { class: "lineage-list" });
  const edgeList = h("div", { class: "lineage-list" });

  root.replaceChildren(
    h("div", { class: "lineage-head" }, h("div", {}, title, subtitle), h("a", { href: "#/" }, "← Search")),
    controls, status,
    h("div", { class: "lineage-layout" },
      h("div", { class: "lineage-main" }, canvas, legend),
      h("div", { class: "lineage-side" }, details, impact)),
    h("section", { class: "lineage-lists", "aria-label": "Nodes and edges as lists" },
      h("div", { class: "card" }, h("h2", { id: "nodes-title" }, "Nodes"), nodeList),
      h("div", { class: "card" }, h("h2", { id: "edges-title" }, "Edges"), edgeList)));

  const graph = createGraph(canvas, { onSelect: (sel) => choose(sel, false), onExpand: (id) => expand(id) });

  // -- loading and merging ---------------------------------------------------------------------
  async function fetchAround(id, depth) {
    return gql(LINEAGE, { id, direction: s.direction, depth, granularity: s.granularity, limit: LIMIT });
  }

  function merge(lineage, offset, into) {
    for (const entry of lineage.nodes) {
      if (!into.nodes.has(entry.node.id)) into.nodes.set(entry.node.id, toNode(entry, entry.distance + offset));
    }
    for (const e of lineage.edges) into.edges.set(edgeKey(e), { ...e, key: edgeKey(e) });
    into.truncated ||= lineage.truncated;
  }

  /** Fetch the view (the root's lineage, then each expanded node's) and draw it. */
  async function load() {
    const mine = ++loads;
    fill(status, "Loading the lineage…");
    const started = performance.now();
    const base = await fetchAround(s.id, s.depth);
    if (gone || mine !== loads) return;
    const next = { nodes: new Map(), edges: new Map(), truncated: false };
    merge(base.lineage, 0, next);
    for (const id of state.expanded) {
      if (!next.nodes.has(id)) continue;
      const more = await fetchAround(id, 1);
      if (gone || mine !== loads) return;
      merge(more.lineage, next.nodes.get(id).distance, next);
    }
    const answered = performance.now();
    state.nodes = next.nodes;
    state.edges = next.edges;
    state.truncated = next.truncated;
    state.rootId = base.lineage.root.id;
    state.expanded = new Set([...state.expanded].filter((id) => state.nodes.has(id)));
    heading(base.node);
    watch();
    await draw();
    // For tests/benchmarks/ui_lineage.py: from the answer to the frame that shows the laid-out graph.
    requestAnimationFrame(() => {
      window.maestroLineageTimes = { fetched: answered - started, drawn: performance.now() - answered, nodes: state.nodes.size,
        edges: state.edges.size, layout: state.nodes.size > BIG ? "layered" : "dagre" };
    });
    // What is selected stays selected, its details and impact read afresh (the lineage may have changed).
    choose(state.selected && exists(state.selected) ? state.selected : { kind: "node", id: state.nodes.has(s.id) ? s.id : state.rootId }, true);
  }

  async function draw() {
    const nodes = [...state.nodes.values()];
    const edges = [...state.edges.values()];
    await graph.draw(nodes, edges, { rootId: state.rootId, expanded: state.expanded });
    lists(nodes, edges);
    const live = watching.size ? " · live" : "";
    status.dataset.watching = String(watching.size); // how many datasets are followed live
    fill(status, `${num(nodes.length)} node${nodes.length === 1 ? "" : "s"}, ${num(edges.length)} edge${edges.length === 1 ? "" : "s"}${live}`,
      state.truncated ? h("span", { class: "warn" }, ` · stopped at ${num(LIMIT)} nodes: lower the depth to see all of a part`) : "");
  }

  function heading(node) {
    if (!node) {
      fill(title, "Lineage");
      fill(subtitle, "There is no such column or dataset.");
      return;
    }
    if (node.__typename === "Field") {
      fill(title, node.name);
      fill(subtitle, "Column", node.type ? ` (${node.type})` : "", node.dataset
        ? [" of ", h("a", { href: hashOf({ ...s, id: node.dataset.id, granularity: "DATASET" }) }, node.dataset.name)] : "");
    } else {
      fill(title, node.name ?? "Lineage");
      fill(subtitle, "Dataset", node.namespace ? ` in ${node.namespace}` : "");
    }
    document.title = `${node.name} · lineage · Maestro Graph`;
  }

  function exists(sel) {
    return sel.kind === "node" ? state.nodes.has(sel.id) : state.edges.has(sel.id);
  }

  async function changed() {
    s.granularity = gSelect.value;
    s.direction = dSelect.value;
    const depth = Number.parseInt(depthInput.value, 10);
    if (!(depth >= 1 && depth <= 10)) {
      page.error(new Error("Depth: a whole number from 1 to 10."));
      depthInput.focus();
      return;
    }
    s.depth = depth;
    history.replaceState(null, "", hashOf(s));
    state.expanded.clear();
    state.selected = null;
    await guarded(load);
  }

  async function expand(id) {
    const node = state.nodes.get(id);
    if (!node || state.expanded.has(id)) return;
    fill(status, `Expanding ${nodeName(node)}…`);
    state.expanded.add(id);
    try {
      const more = await fetchAround(id, 1);
      if (gone) return;
      const before = state.nodes.size;
      merge(more.lineage, node.distance, state);
      watch();
      await draw();
      const added = state.nodes.size - before;
      fill(status, status.textContent, ` · ${nodeName(node)} expanded: ${added ? `${num(added)} more node${added === 1 ? "" : "s"}` : "nothing new"}`);
      if (state.selected?.id === id) showDetails(state.selected);
    } catch (err) {
      state.expanded.delete(id);
      page.error(err);
    }
  }

  function refresh() {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(() => guarded(load), REFRESH_MS);
  }

  async function guarded(fn) {
    try {
      await fn();
    } catch (err) {
      if (!gone) {
        fill(status, "The lineage could not be loaded.");
        page.error(err);
      }
    }
  }

  // -- live: the datasets shown, the closest first ---------------------------------------------
  function watch() {
    const datasets = new Map();
    for (const n of [...state.nodes.values()].sort((a, b) => Math.abs(a.distance) - Math.abs(b.distance))) {
      const id = n.kind === "Dataset" ? n.id : n.dataset?.id;
      if (id && !datasets.has(id)) datasets.set(id, true);
    }
    const keep = new Set([...datasets.keys()].slice(0, MAX_WATCHED));
    for (const [id, stop] of watching) {
      if (!keep.has(id)) {
        stop();
        watching.delete(id);
      }
    }
    for (const id of keep) {
      if (watching.has(id)) continue;
      watching.set(id, subscribe(CHANGED, { id }, () => refresh(), (err) => {
        watching.delete(id);
        if (!gone) page.error(err);
      }));
    }
  }

  // -- selection: details and impact -----------------------------------------------------------
  function choose(sel, quiet) {
    state.selected = sel;
    graph.select(sel);
    for (const b of root.querySelectorAll(".lineage-list button[aria-current]")) b.removeAttribute("aria-current");
    root.querySelector(`.lineage-list button[data-key="${CSS.escape(sel.id)}"]`)?.setAttribute("aria-current", "true");
    showDetails(sel);
    if (sel.kind === "node") {
      stopImpact();
      graph.highlight(null);
      stopImpact = showImpact(impact, sel.id, { page, onPath: (path) => lightPath(path) });
    }
    if (!quiet) details.scrollIntoView?.({ block: "nearest" });
  }

  /** Light up an impact path: ids not drawn (a column at dataset granularity) stand for their dataset. */
  function lightPath(path) {
    if (!path) {
      graph.highlight(null);
      return;
    }
    const datasetOf = new Map([...state.nodes.values()].filter((n) => n.dataset).map((n) => [n.id, n.dataset.id]));
    if (s.granularity === "DATASET" && kindOf(s.id) === "Field") datasetOf.set(s.id, state.rootId);
    const ids = [];
    for (const id of path) {
      const shown = state.nodes.has(id) ? id : (datasetOf.get(id) ?? null);
      if (shown && ids[ids.length - 1] !== shown) ids.push(shown);
    }
    const lit = graph.highlight(ids);
    if (!lit) fill(status, "That path runs outside what is drawn: raise the depth or choose Downstream to see it.");
  }

  function showDetails(sel) {
    if (sel.kind === "node") {
      const n = state.nodes.get(sel.id);
      if (!n) return;
      const description = [h("dt", {}, "Description"), h("dd", {}, n.description ?? "…")];
      if (n.description === null) {
        gql(DESCRIPTION, { id: n.id }).then((data) => {
          n.description = data.node?.description || "None given.";
          fill(description[1], n.description);
        }).catch(() => fill(description[1], "Not available."));
      }
      fill(details,
        h("h2", { id: "details-title" }, nodeName(n)),
        h("dl", { class: "facts" },
          h("dt", {}, "Kind"), h("dd", {}, n.kind === "Field" ? "Column" : "Dataset"),
          n.type ? [h("dt", {}, "Type"), h("dd", {}, n.type)] : null,
          n.namespace ? [h("dt", {}, "Namespace"), h("dd", {}, n.namespace)] : null,
          n.dataset ? [h("dt", {}, "Dataset"), h("dd", {}, n.dataset.name)] : null,
          h("dt", {}, "Where"), h("dd", {}, where(n.distance)),
          description),
        h("div", { class: "details-actions" },
          h("button", { type: "button", disabled: state.expanded.has(n.id), onclick: () => expand(n.id) },
            state.expanded.has(n.id) ? "Expanded" : "Expand"),
          n.id !== state.rootId ? h("a", { class: "button secondary-link", href: hashOf({ ...s, id: n.id }) }, "Start from here") : null));
      return;
    }
    const e = state.edges.get(sel.id);
    if (!e) return;
    const from = state.nodes.get(e.sourceId);
    const to = state.nodes.get(e.targetId);
    fill(details,
      h("h2", { id: "details-title" }, from ? nodeName(from) : "?", " → ", to ? nodeName(to) : "?"),
      h("dl", { class: "facts" },
        h("dt", {}, "Lineage"), h("dd", {}, e.relationship === "FEEDS" ? "dataset feeds dataset" : "column derived from column"),
        e.transformationType ? [h("dt", {}, "Type"), h("dd", {}, e.transformationType)] : null,
        e.transformationSubtype ? [h("dt", {}, "Subtype"), h("dd", {}, e.transformationSubtype)] : null,
        h("dt", {}, "Description"), h("dd", { class: "edge-description" }, e.description || "No description given by the producer."),
        e.job ? [h("dt", {}, "Job"), h("dd", {}, e.job)] : null));
  }

  // -- the accessible lists --------------------------------------------------------------------
  function lists(nodes, edges) {
    const sorted = [...nodes].sort((a, b) => a.distance - b.distance || nodeName(a).localeCompare(nodeName(b)));
    fillList(nodeList, sorted, (n) => h("li", {},
      h("button", { type: "button", class: "link", dataset: { key: n.id }, onclick: () => choose({ kind: "node", id: n.id }, false) }, nodeName(n)),
      h("span", { class: "muted" }, ` ${n.kind === "Field" ? "column" : "dataset"} · ${where(n.distance)}`)),
    "No lineage: nothing is recorded upstream or downstream of it.");
    fillList(edgeList, edges, (e) => {
      const from = state.nodes.get(e.sourceId);
      const to = state.nodes.get(e.targetId);
      return h("li", {},
        h("button", { type: "button", class: "link", dataset: { key: e.key }, onclick: () => choose({ kind: "edge", id: e.key }, false) },
          `${from ? nodeName(from) : "?"} → ${to ? nodeName(to) : "?"}`),
        h("span", { class: "muted" }, ` ${[e.transformationType, e.transformationSubtype].filter(Boolean).join(" ").toLowerCase() || (e.relationship === "FEEDS" ? "feeds" : "")}`));
    }, "No edges.");
    fill(root.querySelector("#nodes-title"), "Nodes", h("span", { class: "muted" }, ` (${num(nodes.length)})`));
    fill(root.querySelector("#edges-title"), "Edges", h("span", { class: "muted" }, ` (${num(edges.length)})`));
  }

  function fillList(box, items, item, empty) {
    if (!items.length) {
      fill(box, h("p", { class: "muted" }, empty));
      return;
    }
    const ul = h("ul", {}, items.slice(0, LIST_FIRST).map(item));
    const more = items.length > LIST_FIRST
      ? h("button", { type: "button", class: "secondary", onclick: (event) => {
        ul.append(...items.slice(LIST_FIRST).map(item));
        event.currentTarget.remove();
      } }, `Show all ${num(items.length)}`)
      : null;
    fill(box, ul, more);
  }

  await guarded(load);
  return () => {
    gone = true;
    clearTimeout(refreshTimer);
    stopImpact();
    for (const stop of watching.values()) stop();
    watching.clear();
    graph.destroy();
  };
}

function sample(colour) {
  const line = h("span", { class: "legend-line solid" });
  line.style.borderTopColor = colour;
  return line;
}
