// xuncha 巡察报告分析 — single-page front end (plain ES2020 modules, no build step).
// This is the entry module (index.html loads it with <script type="module">): it wires the page up
// and starts the router (router.js). Each page is one module beside it (documents.js, upload.js, search.js,
// clusters.js, statistics.js, downloads.js, audit.js, …); state.js, dom.js, api.js and ui.js are shared.
//
// Security rules kept throughout these modules:
// * every piece of text that comes from a report or the API is put into the page with
//   textContent / createTextNode (the h() helper in dom.js); innerHTML is never used;
// * no inline scripts or handlers (the page is served with a strict CSP), listeners are attached with addEventListener;
// * every unsafe request (POST/PATCH/DELETE) carries `X-Requested-With: xuncha` (CSRF guard);
// * ECharts tooltips use renderMode "richText" so names are drawn on the canvas, never parsed as HTML.

import { state } from "./state.js";
import { $ } from "./dom.js";
import { api } from "./api.js";
import { hideMessage } from "./ui.js";
import { logout, onLoginSubmit, showApp, showLogin, showPasswordChange, userFrom } from "./auth.js";
import { route } from "./router.js";

// ---------------------------------------------------------------------------------------------
// Start

async function init() {
  $("#login-form").addEventListener("submit", onLoginSubmit);
  $("#logout-button").addEventListener("click", logout);
  $("#message-close").addEventListener("click", hideMessage);
  window.addEventListener("hashchange", () => {
    hideMessageIfInfo();
    route();
  });
  window.addEventListener("resize", () => {
    for (const c of state.charts) c.resize();
  });
  try {
    state.user = userFrom(await api("GET", "/auth/me", { noAuthRedirect: true }));
  } catch (_) {
    state.user = null;
  }
  if (state.user && state.user.name && state.user.must_change_password) {
    state.afterLogin = location.hash || null;
    showPasswordChange();
  } else if (state.user && state.user.name) {
    showApp();
    route();
  } else {
    state.user = null;
    state.afterLogin = location.hash || null;
    showLogin();
  }
  document.body.dataset.ready = "1";
}

function hideMessageIfInfo() {
  const bar = $("#message-bar");
  if (bar && bar.classList.contains("info")) bar.hidden = true;
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
else init();
