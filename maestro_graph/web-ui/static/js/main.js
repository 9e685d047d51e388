// The page: a hash router over the views in views/, the sign-in gate, and the error banner.
import { claims, signOut, token } from "./api.js";
import { fill, h } from "./dom.js";

// #/<route>/<id...>: each view's module exports render(root, params, page) and may return a
// function that stops what it started (subscriptions, timers) when the view goes away.
const ROUTES = {
  "": () => import("./views/search.js"),
  signin: () => import("./views/signin.js"),
  lineage: () => import("./views/lineage.js"),
  project: () => import("./views/project.js"),
  jobs: () => import("./views/jobs.js"),
};

const root = document.getElementById("view");
const banner = document.getElementById("error");
let stop = null;
let carried = null; // an error that sent the person to sign in: shown there
let generation = 0; // which navigation is the current one

export const page = {
  /** Show an error as a sentence (ApiError's message is the server's own). */
  error(err) {
    const message = err?.message ?? String(err);
    if (err?.code === "UNAUTHENTICATED" || err?.code === "401") {
      signOut();
      carried = message;
      go("#/signin");
      return;
    }
    fill(banner, h("span", {}, message), h("button", { type: "button", class: "link", onclick: () => page.clear() }, "Dismiss"));
    banner.hidden = false;
  },
  clear() {
    banner.hidden = true;
    banner.replaceChildren();
  },
  go,
};

function go(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

function showWho() {
  const who = document.getElementById("who");
  const c = token() ? claims() : null;
  if (!c) {
    fill(who, h("a", { href: "#/signin" }, "Sign in"));
    return;
  }
  fill(who,
    h("span", { class: "who-name", title: `roles: ${(c.roles ?? []).join(", ")}` }, c.sub),
    h("span", { class: "who-tenant" }, `tenant ${c.tenant}`),
    h("button", { type: "button", class: "link", onclick: () => { signOut(); go("#/signin"); } }, "Sign out"));
}

async function route() {
  if (stop) {
    try { stop(); } catch { /* a view's cleanup must not block the next one */ }
    stop = null;
  }
  page.clear();
  if (carried !== null) {
    const message = carried;
    carried = null;
    page.error(new Error(message));
  }
  const [name, ...params] = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  const wanted = ROUTES[name] ? name : "";
  if (!token() && wanted !== "signin") {
    go("#/signin");
    return;
  }
  showWho();
  for (const link of document.querySelectorAll("[data-nav]")) {
    link.toggleAttribute("aria-current", link.dataset.nav === (wanted || "search"));
  }
  // Each navigation renders into a container of its own: a view still rendering when the person
  // moves on writes into its detached container, and what it started is stopped at once.
  const mine = ++generation;
  const container = h("div", { class: "view" }, h("p", { class: "muted" }, "Loading…"));
  root.replaceChildren(container);
  try {
    const view = await ROUTES[wanted]();
    if (mine !== generation) return;
    const cleanup = await view.render(container, params, page);
    if (mine !== generation) {
      if (typeof cleanup === "function") cleanup();
      return;
    }
    stop = typeof cleanup === "function" ? cleanup : null;
    root.focus({ preventScroll: true });
  } catch (err) {
    if (mine !== generation) return;
    container.replaceChildren();
    page.error(err);
  }
}

window.addEventListener("hashchange", route);
window.addEventListener("DOMContentLoaded", route);
