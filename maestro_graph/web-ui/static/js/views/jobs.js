// Training jobs: #/jobs (every job), #/jobs/project/<id> (one project's), #/jobs/<id> (one job).
// Both follow the jobs live over a subscription.
import { render as detail } from "../projects/job.js";
import { gql, subscribe } from "../api.js";
import { ago, fill, h, num } from "../dom.js";
import { guarded, progressBar, statusTag, words } from "../projects/common.js";

const STATUSES = ["PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"];
const ROW = "id name status progress epoch message updatedAt project { id name }";
const LIST = `query($projectId: ID, $status: [TrainingStatus!], $after: String) {
  trainingJobs(projectId: $projectId, status: $status, first: 50, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } edges { node { ${ROW} } } } }`;
const PROJECTS = `query($after: String) { projects(first: 100, after: $after) {
  pageInfo { hasNextPage endCursor } edges { node { id name } } } }`;
const REFRESH = `query($ids: [ID!]!) { nodes(ids: $ids) { ... on TrainingJob { ${ROW} } } }`;
// One project's jobs come typed, with what each change left; every job's through the change feed.
const PROJECT_JOBS = `subscription($projectId: ID!, $after: String) { trainingJobs(projectId: $projectId, after: $after) {
  kind id at status progress epoch message } }`;
const ALL_JOBS = `subscription($after: String) { changes(labels: ["TrainingJob"], after: $after) {
  truncated created { id } updated { id } deleted { id } } }`;
// Changes to jobs not shown, or many quick progress changes, are read together at most this often.
const REFRESH_MS = 400;
const MAX_PROJECT_PAGES = 10;

export const render = guarded(async (root, params, page, left) => {
  if (params[0] && params[0] !== "project") return detail(root, params[0], page, left);
  return list(root, params[0] === "project" ? params[1] ?? null : null, page, left);
});

async function projectChoices() {
  const out = [];
  let after = null;
  for (let n = 0; n < MAX_PROJECT_PAGES; n++) {
    const p = (await gql(PROJECTS, { after })).projects;
    out.push(...p.edges.map((e) => e.node));
    if (!p.pageInfo.hasNextPage) break;
    after = p.pageInfo.endCursor;
  }
  return out;
}

async function list(root, projectId, page, left) {
  document.title = "Training jobs · Maestro Graph";
  const projects = await projectChoices();
  if (projectId && !projects.some((p) => p.id === projectId)) {
    const known = (await gql(`query($id: ID!) { node(id: $id) { ... on Project { id name } } }`, { id: projectId })).node;
    if (known?.id) projects.unshift(known);
  }
  if (left()) return undefined;
  const state = { projectId, status: null, rows: new Map(), after: null, total: 0 };

  const projectSelect = h("select", { id: "job-project" },
    h("option", { value: "" }, "All projects"),
    projects.map((p) => h("option", { value: p.id, selected: p.id === projectId }, p.name)));
  const statusSelect = h("select", { id: "job-status" },
    h("option", { value: "" }, "Any status"), STATUSES.map((s) => h("option", { value: s }, words(s))));
  const summary = h("p", { class: "muted", "aria-live": "polite" }, "Loading training jobs…");
  const body = h("tbody");
  const table = h("table", { class: "jobs-table" },
    h("caption", { class: "visually-hidden" }, "Training jobs"),
    h("thead", {}, h("tr", {}, ["Job", "Project", "Status", "Progress", "Epoch", "Updated"].map((c) => h("th", { scope: "col" }, c)))),
    body);
  const moreButton = h("button", { type: "button", class: "secondary", hidden: true, onclick: () => load(false) }, "Show more");
  fill(root, h("section", { class: "jobs" },
    h("h1", {}, "Training jobs"),
    h("form", { class: "filters", onsubmit: (e) => e.preventDefault() },
      h("div", {}, h("label", { for: "job-project" }, "Project"), projectSelect),
      h("div", {}, h("label", { for: "job-status" }, "Status"), statusSelect)),
    summary, table, moreButton));

  function row(job) {
    const bar = progressBar(`Progress of ${job.name}`, job.progress);
    const cells = {
      status: h("td", { "data-label": "Status" }),
      epoch: h("td", { "data-label": "Epoch" }),
      updated: h("td", { "data-label": "Updated" }),
    };
    const tr = h("tr", { dataset: { id: job.id } },
      h("td", { "data-label": "Job" }, h("a", { href: `#/jobs/${encodeURIComponent(job.id)}` }, job.name)),
      h("td", { "data-label": "Project" }, job.project ? h("a", { href: `#/project/${encodeURIComponent(job.project.id)}` }, job.project.name) : "–"),
      cells.status, h("td", { "data-label": "Progress", class: "progress-cell" }, bar), cells.epoch, cells.updated);
    tr.update = (j) => {
      fill(cells.status, statusTag(j.status));
      bar.set(j.progress);
      cells.epoch.textContent = j.epoch == null ? "–" : num(j.epoch);
      if (j.updatedAt) cells.updated.textContent = ago(j.updatedAt);
    };
    tr.update(job);
    return tr;
  }

  function shown() {
    const filtered = state.projectId || state.status;
    if (state.total === 0) {
      summary.textContent = filtered ? "No training jobs match these filters." : "No training jobs yet: submit one with submitTrainingJob.";
      table.hidden = true;
    } else {
      summary.textContent = `${num(state.total)} training ${state.total === 1 ? "job" : "jobs"}${state.rows.size < state.total ? `, showing ${num(state.rows.size)}` : ""}. They update live.`;
      table.hidden = false;
    }
  }

  let loading = null;
  async function load(fresh) {
    const variables = { projectId: state.projectId, status: state.status ? [state.status] : null, after: fresh ? null : state.after };
    const mine = (loading = {});
    const answer = (await gql(LIST, variables)).trainingJobs;
    if (mine !== loading) return; // a newer filter won
    if (fresh) {
      state.rows.clear();
      body.replaceChildren();
    }
    for (const { node } of answer.edges) {
      if (state.rows.has(node.id)) continue;
      const tr = row(node);
      state.rows.set(node.id, tr);
      body.append(tr);
    }
    state.total = answer.totalCount;
    state.after = answer.pageInfo.endCursor;
    moreButton.hidden = !answer.pageInfo.hasNextPage;
    shown();
  }

  // Live: jobs shown change in place; a new or deleted job reloads the first page.
  const waiting = new Set();
  let reloadList = false;
  let timer = null;
  function later(id, whole = false) {
    if (whole) reloadList = true;
    else if (id) waiting.add(id);
    if (timer === null) timer = setTimeout(flush, REFRESH_MS);
  }
  async function flush() {
    timer = null;
    try {
      if (reloadList) {
        reloadList = false;
        waiting.clear();
        await load(true);
        return;
      }
      const ids = [...waiting].filter((id) => state.rows.has(id));
      waiting.clear();
      if (ids.length === 0) return;
      const { nodes } = await gql(REFRESH, { ids });
      for (const job of nodes) if (job?.id && state.rows.has(job.id)) state.rows.get(job.id).update(job);
    } catch (err) {
      page.error(err);
    }
  }

  let unsubscribe = () => {};
  async function follow() {
    unsubscribe();
    const { changeFeedCursor: after } = await gql("{ changeFeedCursor }"); // before the list is read
    if (state.projectId) {
      unsubscribe = subscribe(PROJECT_JOBS, { projectId: state.projectId, after }, ({ trainingJobs: e }) => {
        const tr = state.rows.get(e.id);
        if (e.kind !== "UPDATED") later(null, true);
        else if (tr) tr.update({ ...e, updatedAt: e.at });
        else if (state.status !== null && e.status === state.status) later(null, true); // it now matches the filter
      }, (err) => page.error(err));
    } else {
      unsubscribe = subscribe(ALL_JOBS, { after }, ({ changes: c }) => {
        if (c.truncated || c.created.length || c.deleted.length) later(null, true);
        for (const ref of c.updated) {
          if (state.rows.has(ref.id)) later(ref.id);
          else if (state.status !== null) later(null, true); // it may now match the filter
        }
      }, (err) => page.error(err));
    }
    await load(true);
  }

  const refilter = async () => {
    state.projectId = projectSelect.value || null;
    state.status = statusSelect.value || null;
    // The address says which project, so a reload or a shared link shows the same list.
    history.replaceState(null, "", state.projectId ? `#/jobs/project/${encodeURIComponent(state.projectId)}` : "#/jobs");
    summary.textContent = "Loading training jobs…";
    try {
      await follow();
    } catch (err) {
      page.error(err);
    }
  };
  projectSelect.addEventListener("change", refilter);
  statusSelect.addEventListener("change", async () => {
    state.status = statusSelect.value || null;
    try {
      await load(true);
    } catch (err) {
      page.error(err);
    }
  });

  await follow();
  return () => {
    unsubscribe();
    if (timer !== null) clearTimeout(timer);
    document.title = "Maestro Graph";
  };
}
