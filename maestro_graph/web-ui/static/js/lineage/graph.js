// The lineage drawing: cytoscape, laid out left to right (upstream on the left). Small graphs get
// dagre's layered layout; big ones a layered layout of our own by distance from the root, which is
// linear in the graph's size where dagre's crossing reduction is not.

// Edge colour per transformation subtype (OpenLineage column lineage); every colour keeps 4.5:1
// against the white canvas so the legend's samples read as well as the lines.
export const SUBTYPES = {
  IDENTITY: "#57606a",
  TRANSFORMATION: "#0b5cad",
  AGGREGATION: "#8250df",
  JOIN: "#116329",
  FILTER: "#bc4c00",
  GROUP_BY: "#a40e26",
  SORT: "#1b7c83",
  WINDOW: "#7d4e00",
  CONDITIONAL: "#bf3989",
};
export const OTHER_SUBTYPE = "#6e7781"; // a subtype not listed above, or none said
export const DATASET_EDGE = "#0d1b2a"; // FEEDS: dataset lineage has no transformation

/** Above this many nodes the drawing switches to the linear layout and cheaper rendering. */
export const BIG = 400;

const COLUMN_GAP = 230;
const ROW_GAP = 46;

export function edgeColour(edge) {
  if (edge.relationship === "FEEDS") return DATASET_EDGE;
  return SUBTYPES[edge.transformationSubtype] ?? OTHER_SUBTYPE;
}

function short(text, most = 24) {
  return text.length > most ? `${text.slice(0, most - 1)}…` : text;
}

export function nodeLabel(node) {
  return node.kind === "Field" && node.dataset ? `${short(node.name)}\n${short(node.dataset.name, 28)}` : short(node.name, 28);
}

const STYLE = [
  { selector: "node", style: {
    shape: "round-rectangle", width: 170, height: 38, "background-color": "#ffffff", "border-width": 1.5,
    "border-color": "#8c959f", label: "data(label)", "text-wrap": "wrap", "text-max-width": 160, "font-size": 12,
    "text-valign": "center", "text-halign": "center", color: "#1b1f24", "min-zoomed-font-size": 8,
    "font-family": "system-ui, sans-serif" } },
  { selector: 'node[kind = "Dataset"]', style: { "background-color": "#e7f0fa", "border-color": "#0b5cad", "font-weight": 600 } },
  { selector: "node.root", style: { "border-width": 3, "border-color": "#0d1b2a" } },
  { selector: "node.expanded", style: { "border-style": "double", "border-width": 4 } },
  { selector: "edge", style: {
    width: 1.6, "curve-style": "bezier", "line-color": "data(colour)", "target-arrow-color": "data(colour)",
    "target-arrow-shape": "triangle", "arrow-scale": 0.9 } },
  { selector: 'edge[type = "INDIRECT"]', style: { "line-style": "dashed", "line-dash-pattern": [6, 4] } },
  { selector: "edge.fast", style: { "curve-style": "straight" } },
  { selector: ".faded", style: { opacity: 0.22 } },
  { selector: "node.path", style: { "border-color": "#d18b00", "border-width": 4, "background-color": "#fff3d6" } },
  { selector: "edge.path", style: { "line-color": "#d18b00", "target-arrow-color": "#d18b00", width: 4, "z-index": 10 } },
  { selector: "node:selected", style: { "border-color": "#f0a000", "border-width": 5, "overlay-opacity": 0 } },
  { selector: "edge:selected", style: { width: 5, "overlay-opacity": 0 } },
];

/**
 * Columns by distance, each ordered by the mean row of its already placed neighbours (one sweep
 * outwards from the root's column): few crossings for lineage, which is mostly a chain of joins
 * and fan-outs. Returns {id: {x, y}}.
 */
export function layered(nodes, edges) {
  const columns = new Map();
  for (const n of nodes) {
    if (!columns.has(n.distance)) columns.set(n.distance, []);
    columns.get(n.distance).push(n);
  }
  const near = new Map(nodes.map((n) => [n.id, []]));
  for (const e of edges) {
    near.get(e.sourceId)?.push(e.targetId);
    near.get(e.targetId)?.push(e.sourceId);
  }
  const row = new Map();
  const order = [...columns.keys()].sort((a, b) => Math.abs(a) - Math.abs(b) || a - b);
  const positions = {};
  for (const d of order) {
    const column = columns.get(d);
    const score = new Map(column.map((n) => {
      const placed = near.get(n.id).filter((m) => row.has(m)).map((m) => row.get(m));
      return [n.id, placed.length ? placed.reduce((a, b) => a + b, 0) / placed.length : Infinity];
    }));
    column.sort((a, b) => (score.get(a.id) - score.get(b.id)) || (a.group < b.group ? -1 : a.group > b.group ? 1 : 0)
      || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const top = -((column.length - 1) * ROW_GAP) / 2;
    column.forEach((n, i) => {
      row.set(n.id, i - (column.length - 1) / 2);
      positions[n.id] = { x: d * COLUMN_GAP, y: top + i * ROW_GAP };
    });
  }
  return positions;
}

/**
 * Draw into `container`. onSelect({kind: "node"|"edge", id}) on a tap, onExpand(id) on a double
 * tap. Returns the drawing's controls.
 */
export function createGraph(container, { onSelect, onExpand }) {
  if (!createGraph.registered) {
    window.cytoscape.use(window.cytoscapeDagre);
    createGraph.registered = true;
  }
  const cy = window.cytoscape({
    container, style: STYLE, minZoom: 0.03, maxZoom: 3, boxSelectionEnabled: false, selectionType: "single",
  });
  window.maestroLineage = cy; // for the browser tests and benchmarks: what is drawn
  cy.on("tap", "node", (e) => onSelect({ kind: "node", id: e.target.id() }));
  cy.on("tap", "edge", (e) => onSelect({ kind: "edge", id: e.target.id() }));
  cy.on("dbltap", "node", (e) => onExpand(e.target.id()));

  return {
    cy,
    /** Show exactly these nodes and edges (adds, removes and updates in one batch), then lay out. */
    draw(nodes, edges, { rootId, expanded }) {
      const big = nodes.length > BIG;
      const wanted = new Set([...nodes.map((n) => n.id), ...edges.map((e) => e.key)]);
      cy.startBatch();
      cy.elements().filter((el) => !wanted.has(el.id())).remove();
      const add = [];
      for (const n of nodes) {
        const data = { id: n.id, label: nodeLabel(n), kind: n.kind };
        const el = cy.getElementById(n.id);
        if (el.nonempty()) el.data(data);
        else add.push({ group: "nodes", data });
      }
      for (const e of edges) {
        if (cy.getElementById(e.key).nonempty()) continue;
        add.push({ group: "edges", data: { id: e.key, source: e.sourceId, target: e.targetId,
          colour: edgeColour(e), type: e.transformationType ?? "" } });
      }
      cy.add(add);
      cy.nodes().removeClass("root expanded");
      cy.getElementById(rootId).addClass("root");
      for (const id of expanded) cy.getElementById(id).addClass("expanded");
      cy.edges().toggleClass("fast", big);
      cy.endBatch();
      // Big graphs: draw a snapshot while panning and leave edges out, so moving stays smooth.
      cy.renderer().textureOnViewport = big;
      cy.renderer().hideEdgesOnViewport = big;
      let layout;
      if (big) {
        const at = layered(nodes.map((n) => ({ ...n, group: n.dataset?.name ?? n.name })), edges);
        layout = cy.layout({ name: "preset", positions: (node) => at[node.id()], fit: true, padding: 24, animate: false });
      } else {
        layout = cy.layout({ name: "dagre", rankDir: "LR", nodeSep: 14, rankSep: 90, edgeSep: 8, fit: true,
          padding: 24, animate: false });
      }
      return new Promise((resolve) => {
        layout.one("layoutstop", () => {
          if (!big) readable(cy, cy.getElementById(rootId));
          resolve();
        });
        layout.run();
      });
    },
    select(sel) {
      cy.elements().unselect();
      if (!sel) return;
      const el = cy.getElementById(sel.id);
      if (el.empty()) return;
      el.select();
      if (!el.visible() || !cy.extent() || !inView(cy, el)) cy.animate({ center: { eles: el }, duration: 200 });
    },
    /** Light up a path (ids from the root, in order); the rest fades. No ids: clear. */
    highlight(ids) {
      cy.startBatch();
      cy.elements().removeClass("path faded");
      if (ids && ids.length) {
        const on = cy.collection();
        for (let i = 0; i < ids.length; i++) {
          const node = cy.getElementById(ids[i]);
          if (node.empty()) continue;
          on.merge(node);
          if (i > 0) on.merge(cy.getElementById(ids[i - 1]).edgesTo(node));
        }
        on.addClass("path");
        cy.elements().difference(on).addClass("faded");
        cy.endBatch();
        if (on.nonempty()) {
          cy.fit(on, 60);
          readable(cy, on);
        }
        return on.nodes().length;
      }
      cy.endBatch();
      return 0;
    },
    fit() {
      cy.fit(undefined, 24);
    },
    destroy() {
      if (window.maestroLineage === cy) window.maestroLineage = null;
      cy.destroy();
    },
  };
}

/** Fitting a wide graph into a phone's width makes its labels unreadable: zoom in to where they
 * read, centred on what matters (the root, a lit path), and let the person pan to the rest. */
const READABLE_ZOOM = 0.7;

function readable(cy, around) {
  if (cy.zoom() >= READABLE_ZOOM || around.empty()) return;
  cy.zoom(READABLE_ZOOM);
  cy.center(around);
}

function inView(cy, el) {
  const box = el.boundingBox();
  const ext = cy.extent();
  return box.x1 >= ext.x1 && box.x2 <= ext.x2 && box.y1 >= ext.y1 && box.y2 <= ext.y2;
}
