// Copies the browser builds of the pinned libraries (package.json, package-lock.json) from
// node_modules into static/vendor/, byte for byte, with their licences: the page then loads
// nothing from another host. `npm ci && node vendor.mjs` (or `--check`: exit 1 when a copy in
// static/vendor/ differs from what the pinned packages ship).
import { copyFileSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
export const FILES = {
  "cytoscape/dist/cytoscape.min.js": "cytoscape.min.js",
  "cytoscape/LICENSE": "cytoscape.LICENSE",
  "cytoscape-dagre/dist/cytoscape-dagre.min.js": "cytoscape-dagre.min.js",
  "cytoscape-dagre/LICENSE": "cytoscape-dagre.LICENSE",
  "graphql-ws/umd/graphql-ws.min.js": "graphql-ws.min.js",
  "graphql-ws/LICENSE.md": "graphql-ws.LICENSE",
  "uplot/dist/uPlot.iife.min.js": "uPlot.iife.min.js",
  "uplot/dist/uPlot.min.css": "uPlot.min.css",
  "uplot/LICENSE": "uplot.LICENSE",
};

const check = process.argv.includes("--check");
const out = join(here, "static", "vendor");
mkdirSync(out, { recursive: true });
let stale = 0;
for (const [from, to] of Object.entries(FILES)) {
  const source = join(here, "node_modules", from);
  if (!existsSync(source)) {
    console.error(`${from} is missing: run npm ci in ${here} first`);
    process.exit(2);
  }
  const target = join(out, to);
  if (check) {
    if (!existsSync(target) || !readFileSync(source).equals(readFileSync(target))) {
      console.error(`static/vendor/${to} is not ${from} as package-lock.json pins it: run npm run vendor`);
      stale += 1;
    }
  } else {
    copyFileSync(source, target);
  }
}
if (stale) process.exit(1);
console.log(check ? "static/vendor/ is current" : `copied ${Object.keys(FILES).length} files into static/vendor/`);
