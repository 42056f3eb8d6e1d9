// The hash router: #/documents, #/search?q=…, each route drawn into #view.

import { state } from "./state.js";
import { $, $$, h } from "./dom.js";
import { showError, showMessage } from "./ui.js";
import { showPasswordChange, viewPassword } from "./auth.js";
import { disposeCharts } from "./charts.js";
import { viewDocument, viewDocuments } from "./documents.js";
import { viewUpload } from "./upload.js";
import { viewFinding, viewSearch } from "./search.js";
import { viewClusters } from "./clusters.js";
import { viewStatistics } from "./statistics.js";
import { viewDownloads } from "./downloads.js";
import { viewAudit } from "./audit.js";

// ---------------------------------------------------------------------------------------------
// Router

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, "");
  const qpos = raw.indexOf("?");
  const path = qpos >= 0 ? raw.slice(0, qpos) : raw;
  const params = new URLSearchParams(qpos >= 0 ? raw.slice(qpos + 1) : "");
  const parts = path.split("/").filter(Boolean).map((p) => {
    try {
      return decodeURIComponent(p);
    } catch (_) {
      return p;
    }
  });
  return { parts, params };
}

const ROUTES = {
  documents: (root, rest, params) => (rest[0] ? viewDocument(root, rest[0], params) : viewDocuments(root, params)),
  findings: (root, rest) => viewFinding(root, rest[0]),
  upload: (root) => viewUpload(root),
  search: (root, rest, params) => viewSearch(root, params),
  clusters: (root, rest, params) => viewClusters(root, params),
  statistics: (root) => viewStatistics(root),
  downloads: (root) => viewDownloads(root),
  audit: (root, rest, params) => viewAudit(root, params),
  password: (root) => viewPassword(root),
};

export async function route() {
  if (!state.user) return;
  if (state.user.must_change_password) {
    showPasswordChange();
    return;
  }
  disposeCharts();
  const { parts, params } = parseHash();
  const name = ROUTES[parts[0]] ? parts[0] : "documents";
  for (const a of $$("#main-nav a")) a.classList.toggle("active", a.getAttribute("data-route") === name);
  const root = h("div", { class: `page page-${name}`, "data-view": name });
  $("#view").replaceChildren(root);
  const seq = ++state.routeSeq;
  root.dataset.loading = "1";
  try {
    await ROUTES[name](root, parts.slice(1), params);
  } catch (e) {
    if (seq === state.routeSeq && e.status !== 401) {
      for (const el of $$(".loading", root)) el.remove(); // the error replaces 加载中…, never sits under it
      root.appendChild(h("p", { class: "error-box", role: "alert" }, e.message || "加载失败"));
    }
    showError(e);
  } finally {
    delete root.dataset.loading;
    root.dataset.ready = "1";
    if (state.flash) {
      showMessage(state.flash, "info");
      state.flash = null;
    }
  }
}
