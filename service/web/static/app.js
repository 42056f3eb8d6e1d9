// xuncha 巡察报告分析 — single-page front end (plain ES2020, no build step).
//
// Security rules kept throughout this file:
// * every piece of text that comes from a report or the API is put into the page with
//   textContent / createTextNode (the h() helper below); innerHTML is never used;
// * no inline scripts or handlers (the page is served with a strict CSP), listeners are attached here;
// * every unsafe request (POST/PATCH/DELETE) carries `X-Requested-With: xuncha` (CSRF guard);
// * ECharts tooltips use renderMode "richText" so names are drawn on the canvas, never parsed as HTML.
"use strict";

(() => {
  const API = "/api/v1";
  const ROLE_RANK = { viewer: 1, analyst: 2, admin: 3 };
  const ROLE_NAMES = { viewer: "查看", analyst: "分析员", admin: "管理员" };
  // The server's password rule (service/accounts.py, password_problem), written out wherever a password
  // is chosen so nobody has to guess it from a refusal; the server still decides and names the failed rule.
  const PASSWORD_RULES = [
    "至少 10 个字符",
    "包含大写字母、小写字母、数字、符号四类中的至少三类",
    "不能包含用户名（不区分大小写）",
    "不能是常见密码，也不能只是在常见密码前后加数字或符号",
  ];
  const PASSWORD_RULE_LINE = `密码规则：${PASSWORD_RULES.join("；")}。`;
  const SCHEME_ORDER = ["focus", "four_implementations", "livelihood", "problem_type"];
  const SCHEME_NAMES = {
    focus: "三个聚焦",
    four_implementations: "四个落实",
    livelihood: "民生领域",
    problem_type: "问题类型",
  };
  const JOB_STATUS = {
    queued: "排队中",
    running: "处理中",
    stored: "已入库",
    duplicate: "重复（已入库）",
    error: "失败",
    done: "已完成",
    failed: "失败",
  };
  const POLL_MS = 700;

  const state = {
    user: null,
    taxonomy: null, // {schemes: {id: {name, labels}}}
    afterLogin: null,
    job: null, // last upload job (kept across views so polling survives navigation)
    jobTimer: null,
    charts: [],
    routeSeq: 0,
    flash: null, // an info message to show after the next view has rendered
  };

  // ---------------------------------------------------------------------------------------------
  // DOM helpers

  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

  /** Create an element. Children: strings/numbers become text nodes; null/false/undefined are skipped. */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    if (attrs) {
      for (const [key, value] of Object.entries(attrs)) {
        if (value === null || value === undefined || value === false) continue;
        if (key.startsWith("on") && typeof value === "function") {
          el.addEventListener(key.slice(2).toLowerCase(), value);
        } else if (key === "class") {
          el.className = value;
        } else if (key === "text") {
          el.textContent = String(value);
        } else if (key === "value" || key === "checked" || key === "selected" || key === "disabled") {
          el[key] = value;
        } else if (value === true) {
          el.setAttribute(key, "");
        } else {
          el.setAttribute(key, String(value));
        }
      }
    }
    append(el, children);
    return el;
  }

  function append(el, children) {
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      if (Array.isArray(child)) append(el, child);
      else if (child instanceof Node) el.appendChild(child);
      else el.appendChild(document.createTextNode(String(child)));
    }
    return el;
  }

  /** el.append / el.replaceChildren that skip null/undefined/false (the native ones print "null"). */
  const add = (el, ...children) => append(el, children);
  const fill = (el, ...children) => {
    el.replaceChildren();
    return append(el, children);
  };

  const text = (s) => document.createTextNode(s === null || s === undefined ? "" : String(s));

  function fmtNumber(v) {
    if (v === null || v === undefined || v === "") return "";
    const n = Number(v);
    if (!Number.isFinite(n)) return String(v);
    return n.toLocaleString("zh-CN", { maximumFractionDigits: 4 });
  }

  function fmtDateTime(iso, seconds = false) {
    if (!iso) return "";
    // The API stores UTC; a timestamp read back from SQLite has lost its offset, so one without
    // an offset is taken as UTC and shown in the browser's local time.
    const str = String(iso);
    const d = new Date(/T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(str) ? `${str}Z` : str);
    if (Number.isNaN(d.getTime())) return String(iso);
    const p = (n) => String(n).padStart(2, "0");
    const time = `${p(d.getHours())}:${p(d.getMinutes())}${seconds ? `:${p(d.getSeconds())}` : ""}`;
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${time}`;
  }

  function fmtSize(bytes) {
    const n = Number(bytes);
    if (!Number.isFinite(n)) return "";
    if (n < 1024) return `${n} B`;
    if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
    return `${(n / 1024 / 1024).toFixed(1)} MB`;
  }

  const can = (role) => !!state.user && (ROLE_RANK[state.user.role] || 0) >= ROLE_RANK[role];

  function schemeName(id) {
    const s = state.taxonomy && state.taxonomy.schemes && state.taxonomy.schemes[id];
    return (s && s.name) || SCHEME_NAMES[id] || id;
  }

  function schemeIds(extra) {
    const ids = [...SCHEME_ORDER];
    const more = [
      ...Object.keys((state.taxonomy && state.taxonomy.schemes) || {}),
      ...(extra || []),
    ];
    for (const id of more) if (!ids.includes(id)) ids.push(id);
    return ids;
  }

  // Round labels such as 十四届县委第六轮 sort by term number, then round number.
  const CN_DIGITS = { 零: 0, 〇: 0, 一: 1, 二: 2, 两: 2, 三: 3, 四: 4, 五: 5, 六: 6, 七: 7, 八: 8, 九: 9 };
  function cnNumber(s) {
    if (!s) return NaN;
    if (/^\d+$/.test(s)) return Number(s);
    let total = 0;
    let current = 0;
    for (const ch of s) {
      if (ch in CN_DIGITS) current = CN_DIGITS[ch];
      else if (ch === "十") { total += (current || 1) * 10; current = 0; }
      else if (ch === "百") { total += (current || 1) * 100; current = 0; }
      else return NaN;
    }
    return total + current;
  }
  function roundKey(label) {
    const s = String(label || "");
    const term = s.match(/([零〇一二两三四五六七八九十百\d]+)届/);
    const round = s.match(/第([零〇一二两三四五六七八九十百\d]+)轮/);
    return [term ? cnNumber(term[1]) || 0 : 0, round ? cnNumber(round[1]) || 0 : 0];
  }
  function sortRounds(labels) {
    return [...labels].sort((a, b) => {
      const ka = roundKey(a);
      const kb = roundKey(b);
      return ka[0] - kb[0] || ka[1] - kb[1] || String(a).localeCompare(String(b), "zh-CN");
    });
  }

  // ---------------------------------------------------------------------------------------------
  // API

  class ApiError extends Error {
    constructor(status, code, message, body) {
      super(message);
      this.status = status;
      this.code = code;
      this.body = body;
    }
  }

  function errorFrom(status, data) {
    const err = data && data.error;
    if (err && typeof err === "object") {
      return new ApiError(status, err.code || "error", err.message || `请求失败（HTTP ${status}）`, data);
    }
    if (data && typeof data.detail === "string") return new ApiError(status, "error", data.detail, data);
    if (status === 403) return new ApiError(status, "forbidden", "没有权限执行此操作", data);
    if (status === 404) return new ApiError(status, "not_found", "请求的内容不存在", data);
    if (status === 413) return new ApiError(status, "too_large", "文件太大", data);
    return new ApiError(status, "error", `请求失败（HTTP ${status}）`, data);
  }

  function query(params) {
    if (!params) return "";
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) {
      if (v === null || v === undefined || v === "") continue;
      qs.set(k, String(v));
    }
    const s = qs.toString();
    return s ? `?${s}` : "";
  }

  async function parseBody(resp) {
    const type = resp.headers.get("content-type") || "";
    if (type.includes("json")) {
      try {
        return await resp.json();
      } catch (_) {
        return null;
      }
    }
    const body = await resp.text();
    return body ? { text: body } : null;
  }

  async function api(method, path, options = {}) {
    const headers = { Accept: "application/json" };
    if (method !== "GET" && method !== "HEAD") headers["X-Requested-With"] = "xuncha";
    let body;
    if (options.body instanceof FormData) body = options.body;
    else if (options.body !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(options.body);
    }
    let resp;
    try {
      resp = await fetch(API + path + query(options.query), {
        method,
        headers,
        body,
        credentials: "same-origin",
      });
    } catch (_) {
      throw new ApiError(0, "network", "无法连接服务，请确认 xuncha 服务正在运行");
    }
    if (resp.status === 401 && !options.noAuthRedirect) {
      handleUnauthorized();
      throw new ApiError(401, "unauthorized", "登录已失效，请重新登录");
    }
    if (resp.status === 204) return null;
    if (options.raw) {
      if (!resp.ok) throw refused(errorFrom(resp.status, await parseBody(resp)));
      return resp;
    }
    const data = await parseBody(resp);
    if (!resp.ok) throw refused(errorFrom(resp.status, data));
    return data;
  }

  /** A refusal on its way to the caller. A temporary password (set for a new user or by an admin's
   * reset, possibly while this page is open) makes every route but the password change answer 403
   * password_change_required: the page then shows only the password form instead of an error. */
  function refused(err) {
    if (err.code === "password_change_required") requirePasswordChange();
    return err;
  }

  async function loadTaxonomy() {
    if (state.taxonomy) return state.taxonomy;
    try {
      state.taxonomy = await api("GET", "/taxonomy");
    } catch (e) {
      if (e.status === 401) throw e;
      state.taxonomy = { schemes: {} };
    }
    return state.taxonomy;
  }

  // ---------------------------------------------------------------------------------------------
  // Messages

  let messageTimer = null;
  function showMessage(message, kind = "error") {
    const bar = $("#message-bar");
    $("#message-text").textContent = message;
    bar.className = `message-bar ${kind}`;
    bar.hidden = false;
    clearTimeout(messageTimer);
    if (kind !== "error") messageTimer = setTimeout(() => { bar.hidden = true; }, 5000);
  }
  function hideMessage() {
    $("#message-bar").hidden = true;
  }
  function showError(e) {
    if (e && e.status === 401) return; // the login view is shown instead
    if (e && e.code === "password_change_required") return; // the password form is shown instead
    showMessage((e && e.message) || "操作失败", "error");
  }

  // ---------------------------------------------------------------------------------------------
  // Login / logout

  function showLogin() {
    disposeCharts();
    $("#app-view").hidden = true;
    $("#password-view").hidden = true;
    fill($("#password-card"));
    $("#login-view").hidden = false;
    $("#login-error").hidden = true;
    $("#login-password").value = "";
    $("#login-username").focus();
  }

  function showApp() {
    $("#login-view").hidden = true;
    $("#app-view").hidden = false;
    $("#current-user").textContent = state.user.name;
    $("#current-role").textContent = ROLE_NAMES[state.user.role] || state.user.role;
    for (const a of $$("#main-nav a")) {
      const min = a.getAttribute("data-min-role");
      a.hidden = !!min && !can(min);
    }
  }

  function handleUnauthorized() {
    if (state.user) state.afterLogin = location.hash;
    state.user = null;
    stopJobPolling();
    showLogin();
  }

  const userFrom = (data) => (data && data.user ? data.user : data);

  async function onLoginSubmit(ev) {
    ev.preventDefault();
    const errEl = $("#login-error");
    errEl.hidden = true;
    const username = $("#login-username").value.trim();
    const password = $("#login-password").value;
    if (!username || !password) {
      errEl.textContent = "请输入用户名和密码";
      errEl.hidden = false;
      return;
    }
    const button = $("#login-submit");
    button.disabled = true;
    try {
      const data = await api("POST", "/auth/login", { body: { username, password }, noAuthRedirect: true });
      state.user = (data && data.user) || userFrom(await api("GET", "/auth/me"));
      state.taxonomy = null;
      hideMessage();
      const target = landing(state.afterLogin);
      state.afterLogin = null;
      if (state.user.must_change_password) {
        state.afterLogin = target; // reached once the password is changed
        showPasswordChange();
        return;
      }
      showApp();
      if (location.hash === target) route();
      else location.hash = target;
    } catch (e) {
      errEl.textContent = e.status === 401 || e.status === 400 ? e.message || "用户名或密码错误" : e.message;
      errEl.hidden = false;
    } finally {
      button.disabled = false;
    }
  }

  /** Where to go after logging in (or after the forced password change): the page asked for, else 文档. */
  function landing(wanted) {
    return wanted && wanted !== "#/login" && wanted !== "#/password" ? wanted : "#/documents";
  }

  // ---------------------------------------------------------------------------------------------
  // 修改密码: forced (temporary password: nothing else is shown) and voluntary (#/password)

  /** The change form: current, new and repeated password, the rule written out, the server's Chinese
   * refusal (wrong current password, the failed rule, too many attempts) shown under it. */
  function passwordForm(onDone) {
    const error = h("p", { id: "password-error", class: "form-error", role: "alert", hidden: true });
    const field = (id, label, autocomplete) => [
      h("label", { for: id }, label),
      h("input", { id, name: id, type: "password", autocomplete, required: true, maxlength: 1000 }),
    ];
    const submit = h("button", { id: "password-submit", type: "submit", class: "primary" }, "修改密码");
    const form = h("form", { id: "password-form", class: "password-form", novalidate: true },
      field("password-current", "当前密码", "current-password"),
      field("password-new", "新密码", "new-password"),
      field("password-repeat", "再次输入新密码", "new-password"),
      h("div", { id: "password-rule", class: "password-rule" }, h("p", null, "新密码须满足："),
        h("ul", null, PASSWORD_RULES.map((r) => h("li", null, r)), h("li", null, "不能与当前密码相同"))),
      error,
      submit);
    const say = (message) => {
      error.textContent = message;
      error.hidden = false;
    };
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      error.hidden = true;
      const current = form.elements["password-current"].value;
      const next = form.elements["password-new"].value;
      if (!current || !next) return say("请输入当前密码和新密码");
      if (next !== form.elements["password-repeat"].value) return say("两次输入的新密码不一致");
      submit.disabled = true;
      try {
        await api("POST", "/auth/password", { body: { current_password: current, new_password: next } });
        form.reset();
        await onDone();
      } catch (e) {
        if (e.status !== 401) say(e.message || "修改密码失败"); // 401: the login view is shown instead
      } finally {
        submit.disabled = false;
      }
      return undefined;
    });
    return form;
  }

  /** Only the password form, for a user holding a temporary password: the server refuses everything
   * else (403 password_change_required) until it is changed, so the normal page would only show errors. */
  function showPasswordChange() {
    disposeCharts();
    stopJobPolling();
    $("#login-view").hidden = true;
    $("#app-view").hidden = true;
    fill($("#view"));
    const view = $("#password-view");
    if (!view.hidden) return; // already shown: keep what has been typed
    const card = $("#password-card");
    fill(card,
      h("h1", null, "修改密码"),
      h("p", { id: "password-reason", class: "muted" },
        `${state.user.name}，您正在使用临时密码（新建账户首次登录，或密码已被管理员重置）。请先设置新密码，之后才能使用系统。`),
      passwordForm(async () => {
        state.user = userFrom(await api("GET", "/auth/me"));
        view.hidden = true;
        fill(card);
        showApp();
        state.flash = "密码已修改";
        const target = landing(state.afterLogin);
        state.afterLogin = null;
        if (location.hash === target) route();
        else location.hash = target;
      }),
      h("button", { id: "password-logout", type: "button", class: "link-button", onclick: logout }, "退出登录"));
    view.hidden = false;
    $("#password-current", card).focus();
  }

  /** The server says this user must change the password first (a reset while the page was open). */
  function requirePasswordChange() {
    if (!state.user) return;
    if (!state.user.must_change_password) state.afterLogin = location.hash;
    state.user = { ...state.user, must_change_password: true };
    showPasswordChange();
  }

  async function viewPassword(root) {
    add(root, pageHeader("修改密码"),
      h("section", { class: "panel" },
        h("p", { class: "muted" }, "修改后，您在其他浏览器或设备上的登录会退出；当前登录和 API 令牌保持有效。"),
        passwordForm(async () => {
          state.flash = "密码已修改";
          location.hash = "#/documents";
        })));
  }

  async function logout() {
    try {
      await api("POST", "/auth/logout", { noAuthRedirect: true });
    } catch (_) {
      // the session is dropped locally either way
    }
    state.user = null;
    state.afterLogin = null;
    stopJobPolling();
    state.job = null;
    fill($("#view"));
    showLogin();
  }

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

  async function route() {
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

  function disposeCharts() {
    for (const c of state.charts) {
      try {
        c.dispose();
      } catch (_) {
        // already gone
      }
    }
    state.charts = [];
  }

  // ---------------------------------------------------------------------------------------------
  // Shared pieces

  function pageHeader(title, ...extra) {
    return h("div", { class: "page-header" }, h("h2", null, title), h("div", { class: "page-actions" }, extra));
  }

  function table(id, headers, rows, opts = {}) {
    const thead = h("thead", null, h("tr", null, headers.map((x) => h("th", null, x))));
    const tbody = h("tbody", null, rows);
    if (!rows.length) {
      tbody.appendChild(h("tr", null, h("td", { colspan: headers.length, class: "empty" }, opts.empty || "暂无数据")));
    }
    return h("table", { id, class: `data-table ${opts.class || ""}` }, thead, tbody);
  }

  function loading(msg = "加载中…") {
    return h("p", { class: "loading muted" }, msg);
  }

  /** Tag chips from the simple {scheme: [label, …]} shape used by search and the findings list. */
  function simpleTags(tags) {
    const out = h("div", { class: "tag-row" });
    if (!tags) return out;
    for (const scheme of schemeIds(Object.keys(tags))) {
      const labels = tags[scheme];
      if (!Array.isArray(labels) || !labels.length) continue;
      for (const l of labels) {
        const label = typeof l === "string" ? l : l && l.label;
        if (!label) continue;
        out.appendChild(h("span", { class: "tag", title: schemeName(scheme), "data-scheme": scheme }, label));
      }
    }
    return out;
  }

  function documentLink(docId, label, findingId) {
    if (docId === null || docId === undefined) return text(label || "");
    const href = `#/documents/${encodeURIComponent(docId)}${findingId ? `?f=${encodeURIComponent(findingId)}` : ""}`;
    return h("a", { href }, label || `文档 ${docId}`);
  }

  // ---------------------------------------------------------------------------------------------
  // 文档列表

  const UNASSIGNED_ROUND = "未标明轮次"; // the API's round filter value for documents without a round
  const DOC_FILTERS = ["round", "unit", "kind", "date_from", "date_to"];
  const DOC_SORTS = [ // [API sort key, column header]; the header of the sorted column shows ▲ / ▼
    ["title", "标题"], ["kind", "类型"], ["round", "轮次"], ["unit", "被巡察单位"], ["date", "日期"], ["findings", "问题数"], ["created", "入库时间"],
  ];

  /** A link to the documents list with these filters (a round on the statistics page, …). */
  function documentsLink(filters, label) {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(filters)) if (v) qs.set(k, v);
    return h("a", { href: `#/documents?${qs}` }, label);
  }

  /** The list's state in the address (#/documents?round=…&sort=round&order=asc&page=2), so a filtered,
   *  sorted list survives a reload, the back button and a link someone sends. */
  function documentsHash(params, changes) {
    const qs = new URLSearchParams();
    for (const k of [...DOC_FILTERS, "sort", "order", "page"]) {
      const v = k in changes ? changes[k] : params.get(k);
      if (v) qs.set(k, v);
    }
    const s = qs.toString();
    return `#/documents${s ? `?${s}` : ""}`;
  }

  async function viewDocuments(root, params) {
    const pageSize = 50;
    const page = Math.max(1, Number(params.get("page")) || 1);
    const sort = DOC_SORTS.some(([k]) => k === params.get("sort")) ? params.get("sort") : "created";
    const order = params.get("order") === "asc" ? "asc" : "desc";
    add(root,
      pageHeader(
        "文档",
        can("analyst") ? h("a", { class: "button primary", href: "#/upload" }, "上传报告") : null
      ),
      loading()
    );
    const filters = Object.fromEntries(DOC_FILTERS.map((k) => [k, params.get(k) || ""]));
    const data = await api("GET", "/documents", {
      query: { limit: pageSize, offset: (page - 1) * pageSize, sort, order, ...filters },
    });
    root.lastChild.remove();
    const items = data.items || [];
    const total = data.total ?? items.length;
    const facets = data.facets || {};
    const go = (changes) => { location.hash = documentsHash(params, { page: "", ...changes }); };
    const select = (id, name, key, values) =>
      h("label", null, name,
        h("select", { id, "data-filter": key, onchange: (ev) => go({ [key]: ev.target.value }) },
          h("option", { value: "" }, "全部"),
          // a value in the address that the library no longer has stays selectable, so the filter shows
          [...new Set([...(values || []), ...(filters[key] ? [filters[key]] : [])])].map((v) =>
            h("option", { value: v, selected: v === filters[key] }, v))));
    // a text field, not type=date: Chromium draws that one as mm/dd/yyyy whatever the page's language
    const dateInput = (id, name, key) =>
      h("label", null, name, h("input", {
        id, type: "text", inputmode: "numeric", value: filters[key], placeholder: "如 2024-01-01", pattern: "\\d{4}-\\d{2}-\\d{2}",
        onchange: (ev) => {
          const v = ev.target.value.trim();
          if (v && !/^\d{4}-\d{2}-\d{2}$/.test(v)) { showMessage("日期格式应为 YYYY-MM-DD，如 2024-06-08", "error"); return; }
          go({ [key]: v });
        },
      }));
    const active = DOC_FILTERS.some((k) => filters[k]);
    const filterBar = h("form", { class: "filter-bar", id: "documents-filters", onsubmit: (ev) => ev.preventDefault() },
      select("filter-round", "轮次", "round", facets.rounds),
      select("filter-unit", "单位", "unit", facets.units),
      select("filter-kind", "类型", "kind", facets.kinds),
      dateInput("filter-date-from", "日期从", "date_from"),
      dateInput("filter-date-to", "到", "date_to"),
      active ? h("a", { id: "clear-filters", href: documentsHash(params, Object.fromEntries([...DOC_FILTERS, "page"].map((k) => [k, ""]))) }, "清除筛选") : null);
    const header = ([key, name]) => {
      const current = key === sort;
      const next = current ? (order === "asc" ? "desc" : "asc") : (key === "title" || key === "round" || key === "unit" || key === "kind" ? "asc" : "desc");
      return h("a", {
        href: documentsHash(params, { sort: key, order: next, page: "" }), class: `sort-link${current ? " sorted" : ""}`,
        "data-sort": key, title: `按${name}排序`, "aria-sort": current ? (order === "asc" ? "ascending" : "descending") : null,
      }, name, current ? (order === "asc" ? " ▲" : " ▼") : "");
    };
    const headers = [header(DOC_SORTS[0]), "来源文件", ...DOC_SORTS.slice(1).map(header)];
    if (can("admin")) headers.push("操作");
    const rows = items.map((d) =>
      h(
        "tr",
        { "data-document-id": d.id, class: "document-row" },
        h("td", { class: "title-cell" }, documentLink(d.id, d.title || d.source_name)),
        h("td", { class: "muted" }, d.source_name, h("br"), h("small", null, [d.media_type, fmtSize(d.size)].filter(Boolean).join(" · "))),
        h("td", { class: "doc-kind" }, d.kind || ""),
        h("td", { class: "doc-round" }, d.round || h("span", { class: "muted" }, UNASSIGNED_ROUND)),
        h("td", { class: "doc-units" }, (d.units || []).join("、")),
        h("td", { class: "nowrap doc-date" }, d.date || ""),
        h("td", { class: "num" }, fmtNumber(d.findings)),
        h("td", { class: "nowrap" }, fmtDateTime(d.created_at)),
        can("admin")
          ? h("td", null, h("button", { type: "button", class: "danger small", onclick: () => deleteDocument(d) }, "删除"))
          : null
      )
    );
    add(root,
      filterBar,
      h("p", { class: "muted", id: "documents-total" }, active ? `符合条件的文档 ${fmtNumber(total)} 份` : `共 ${fmtNumber(total)} 份文档`),
      table("documents-table", headers, rows, {
        empty: active ? "没有符合条件的文档" : can("analyst") ? "还没有文档，请先上传报告" : "还没有文档",
      }),
      pager(page, pageSize, total, (p) => documentsHash(params, { page: String(p) }))
    );
  }

  function pager(page, pageSize, total, hrefFor) {
    const pages = Math.max(1, Math.ceil(total / pageSize));
    if (pages <= 1) return null;
    return h(
      "div",
      { class: "pager" },
      page > 1 ? h("a", { href: hrefFor(page - 1) }, "‹ 上一页") : h("span", { class: "muted" }, "‹ 上一页"),
      h("span", null, ` 第 ${page} / ${pages} 页 `),
      page < pages ? h("a", { href: hrefFor(page + 1) }, "下一页 ›") : h("span", { class: "muted" }, "下一页 ›")
    );
  }

  async function deleteDocument(doc) {
    const name = doc.title || doc.source_name || `文档 ${doc.id}`;
    if (!window.confirm(`确定删除“${name}”及其全部问题和标签吗？此操作不可撤销。`)) return;
    try {
      await api("DELETE", `/documents/${encodeURIComponent(doc.id)}`);
      state.flash = `已删除：${name}`; // shown once the list has been re-rendered
      if (location.hash === "#/documents") route();
      else location.hash = "#/documents";
    } catch (e) {
      showError(e);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // 文档详情：原文高亮、问题、标签更正、统计数据

  async function viewDocument(root, id, params) {
    add(root, loading());
    const [doc] = await Promise.all([api("GET", `/documents/${encodeURIComponent(id)}`), loadTaxonomy()]);
    fill(root);
    const findings = (doc.findings || []).slice().sort((a, b) => a.start - b.start);
    const meta = [
      ["来源文件", doc.source_name, "source"],
      ["类型", doc.kind, "kind"],
      ["轮次", doc.round, "round"],
      ["被巡察单位", (doc.units || []).join("、"), "units"],
      ["日期", doc.date, "date"],
      ["问题", `${findings.length} 条`, "findings"],
    ].filter(([, v]) => v);
    const editSlot = h("div", { id: "doc-edit-slot" });
    add(root, 
      h("p", { class: "breadcrumb" }, h("a", { href: "#/documents" }, "‹ 文档列表")),
      pageHeader(
        doc.title || doc.source_name || `文档 ${doc.id}`,
        can("analyst")
          ? h("button", { id: "edit-document", type: "button", onclick: () => toggleDocumentEditor(editSlot, doc) }, "编辑")
          : null,
        can("admin")
          ? h("button", { id: "delete-document", type: "button", class: "danger", onclick: () => deleteDocument(doc) }, "删除文档")
          : null
      ),
      h(
        "dl",
        { class: "doc-meta", id: "doc-meta" },
        meta.map(([k, v, key]) => h("div", { "data-field": key }, h("dt", null, k), h("dd", null, v)))
      ),
      editSlot
    );
    $("h2", root).id = "doc-title";

    const textPanel = h("div", { id: "doc-text", class: "doc-text", "data-testid": "doc-text" });
    renderHighlightedText(textPanel, doc.text || "", findings, doc.page_starts || []);
    const list = h("div", { id: "finding-list", class: "finding-list" });
    for (const f of findings) list.appendChild(findingCard(f));
    if (!findings.length) list.appendChild(h("p", { class: "muted" }, "本文档未识别出问题。"));

    add(root, 
      h(
        "div",
        { class: "doc-layout" },
        h("section", { class: "panel text-panel" }, h("h3", null, "原文（问题已高亮）"), textPanel),
        h(
          "section",
          { class: "panel findings-panel" },
          h("h3", null, `问题清单（${findings.length}）`),
          h("p", { class: "legend muted" },
            h("span", { class: "tag tag-auto" }, "自动"), " 自动标注  ",
            h("span", { class: "tag tag-confirmed" }, "✓ 已确认"), " 分析员确认  ",
            h("mark", { class: "evidence" }, "依据"), " 标注依据"),
          list
        )
      ),
      h("section", { class: "panel" }, h("h3", null, "统计数据"), statisticsTable(doc.statistics || []))
    );

    textPanel.addEventListener("click", (ev) => {
      const mark = ev.target.closest("mark.finding-mark");
      if (mark) focusFinding(mark.getAttribute("data-finding-id"), { scrollText: false });
    });
    const wanted = params.get("f");
    if (wanted) requestAnimationFrame(() => focusFinding(wanted, { scrollText: true }));
  }

  // The inspection kinds the server accepts (service/documents.py KINDS); it refuses any other.
  const DOC_KINDS = ["常规", "专项", "机动", "回头看", "交叉", "提级", "联动", "延伸", "村(社区)"];

  /** Round labels and unit names already in the library, offered while typing (a label typed a little
   *  differently would start a new round beside the existing one). */
  async function knownRoundsAndUnits() {
    try {
      const data = await api("GET", "/documents", { query: { limit: 500 } });
      const items = data.items || [];
      const rounds = sortRounds(new Set(items.map((d) => d.round).filter(Boolean)));
      const units = [...new Set(items.flatMap((d) => d.units || []))].sort((a, b) => a.localeCompare(b, "zh-CN"));
      return { rounds, units };
    } catch (e) {
      if (e.status === 401) throw e;
      return { rounds: [], units: [] }; // the form works without suggestions
    }
  }

  /** The 编辑 form of a document's 轮次 / 单位 / 类型 / 日期: sends only what was changed (an emptied
   *  field clears it), then shows the document again as the server now has it, findings included.
   *  ``onSaved`` (the upload page's prompt) receives the stored document instead of the page being redrawn. */
  async function toggleDocumentEditor(slot, doc, onSaved) {
    if (slot.firstChild) {
      fill(slot);
      return;
    }
    const units = doc.units || [];
    const known = await knownRoundsAndUnits();
    const inputs = {
      round: h("input", { id: "edit-round", name: "round", value: doc.round || "", maxlength: 100, list: "edit-round-options",
        placeholder: "如：十四届区委第七轮", autocomplete: "off" }),
      unit: h("input", { id: "edit-unit", name: "unit", value: units.length === 1 ? units[0] : "", maxlength: 200,
        list: "edit-unit-options", autocomplete: "off",
        placeholder: units.length > 1 ? `留空则不改（现为：${units.join("、")}）` : "被巡察单位全称" }),
      kind: h("select", { id: "edit-kind", name: "kind" },
        h("option", { value: "" }, "（未标明）"),
        [...DOC_KINDS, ...(doc.kind && !DOC_KINDS.includes(doc.kind) ? [doc.kind] : [])]
          .map((k) => h("option", { value: k, selected: k === doc.kind }, k))),
      date: h("input", { id: "edit-date", name: "date", type: "date", value: doc.date || "" }),
    };
    const initial = Object.fromEntries(Object.entries(inputs).map(([k, el]) => [k, el.value.trim()]));
    const status = h("span", { class: "form-error", role: "alert", id: "doc-edit-error" });
    const save = h("button", { type: "submit", class: "primary small", id: "doc-edit-save" }, "保存");
    const field = (id, label, input, hint) =>
      h("div", { class: "field" }, h("label", { for: id }, label), input, hint ? h("small", { class: "muted" }, hint) : null);
    const form = h("form", { class: "panel doc-editor", id: "doc-edit-form", "data-testid": "doc-editor" },
      h("div", { class: "field-row" },
        field("edit-round", "轮次", inputs.round),
        field("edit-unit", "被巡察单位", inputs.unit, units.length > 1 ? "填写后，本文档的全部问题都改为该单位" : null),
        field("edit-kind", "巡察类型", inputs.kind),
        field("edit-date", "日期", inputs.date, doc.date && !inputs.date.value ? `原为：${doc.date}` : null)),
      h("datalist", { id: "edit-round-options" }, known.rounds.map((r) => h("option", { value: r }))),
      h("datalist", { id: "edit-unit-options" }, known.units.map((u) => h("option", { value: u }))),
      h("p", { class: "muted small" }, "修改后，本文档的问题随之改为新的轮次和单位；检索、统计和共性问题按新值计算。"),
      h("div", { class: "editor-actions" }, save,
        h("button", { type: "button", class: "small", onclick: () => fill(slot) }, "取消"), status));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const body = {};
      for (const [name, el] of Object.entries(inputs)) {
        const value = el.value.trim();
        if (value !== initial[name]) body[name] = value || null;
      }
      if (!Object.keys(body).length) {
        status.textContent = "没有需要保存的修改";
        return;
      }
      save.disabled = true;
      status.textContent = "";
      try {
        const updated = await api("PATCH", `/documents/${encodeURIComponent(doc.id)}`, { body });
        if (onSaved) {
          onSaved(updated);
          return;
        }
        state.flash = "文档信息已更新";
        route(); // the document again: its meta and every finding card as now stored
      } catch (e) {
        save.disabled = false;
        status.textContent = e.message;
        if (e.status !== 401) showError(e);
      }
    });
    fill(slot, form);
    inputs.round.focus();
  }

  function renderHighlightedText(container, fullText, findings, pageStarts) {
    const breaks = (pageStarts || []).map(Number).filter((p) => p > 0 && p < fullText.length).sort((a, b) => a - b);
    let pageIdx = 0;
    // Emit fullText[a, b) into parent, with a page marker before each page start inside the range.
    const emit = (parent, a, b) => {
      let pos = a;
      while (pageIdx < breaks.length && breaks[pageIdx] < b) {
        const p = breaks[pageIdx];
        if (p >= pos) {
          if (p > pos) parent.appendChild(text(fullText.slice(pos, p)));
          parent.appendChild(h("span", { class: "page-break", "aria-hidden": "true" }, `第 ${pageIdx + 2} 页`));
          pos = p;
        }
        pageIdx += 1;
      }
      if (b > pos) parent.appendChild(text(fullText.slice(pos, b)));
    };
    let cursor = 0;
    for (const f of findings) {
      let start = Math.max(Number(f.start) || 0, cursor);
      const end = Math.min(Number(f.end) || 0, fullText.length);
      if (end <= start) continue;
      if (start > cursor) emit(container, cursor, start);
      const mark = h("mark", {
        class: "finding-mark",
        id: `mark-${f.id}`,
        "data-finding-id": f.id,
        title: `${f.local_id || f.id}（点击查看）`,
      });
      emit(mark, start, end);
      container.appendChild(mark);
      cursor = end;
      start = end;
    }
    if (cursor < fullText.length) emit(container, cursor, fullText.length);
  }

  function focusFinding(id, { scrollText }) {
    for (const el of $$(".finding.active, mark.finding-mark.active")) el.classList.remove("active");
    const card = document.getElementById(`finding-${id}`);
    const mark = document.getElementById(`mark-${id}`);
    if (card) {
      card.classList.add("active");
      scrollWithin(card.closest(".finding-list"), card, false);
    }
    if (mark) {
      mark.classList.add("active");
      if (scrollText) scrollWithin(mark.closest(".doc-text"), mark, true);
    }
  }

  /** Scroll a panel (not the window) so that el is visible: centred, or just into view. */
  function scrollWithin(panel, el, centre) {
    if (!panel) return;
    const p = panel.getBoundingClientRect();
    const r = el.getBoundingClientRect();
    let delta = 0;
    if (centre) delta = r.top - p.top - (p.height - Math.min(r.height, p.height)) / 2;
    else if (r.top < p.top) delta = r.top - p.top - 8;
    else if (r.bottom > p.bottom) delta = Math.min(r.bottom - p.bottom + 8, r.top - p.top - 8);
    if (delta) panel.scrollBy({ top: delta, behavior: "smooth" });
  }

  /** Evidence spans of all auto tags, as offsets into the finding's own text, merged. */
  function evidenceSpans(f) {
    const spans = [];
    const ftext = f.text || "";
    const auto = (f.tags && f.tags.auto) || {};
    for (const [scheme, tags] of Object.entries(auto)) {
      for (const tag of tags || []) {
        for (const ev of tag.evidence || []) {
          let s = Number(ev.start) - Number(f.start);
          let e = Number(ev.end) - Number(f.start);
          if (!(s >= 0 && e <= ftext.length && e > s) || (ev.text && ftext.slice(s, e) !== ev.text)) {
            const at = ev.text ? ftext.indexOf(ev.text) : -1;
            if (at < 0) continue;
            s = at;
            e = at + ev.text.length;
          }
          spans.push({ s, e, why: `${schemeName(scheme)}：${tag.label}` });
        }
      }
    }
    spans.sort((a, b) => a.s - b.s || b.e - a.e);
    const merged = [];
    for (const sp of spans) {
      const last = merged[merged.length - 1];
      if (last && sp.s < last.e) {
        last.e = Math.max(last.e, sp.e);
        if (!last.why.includes(sp.why)) last.why += `；${sp.why}`;
      } else merged.push({ ...sp });
    }
    return merged;
  }

  function findingText(f) {
    const p = h("p", { class: "finding-text" });
    const ftext = f.text || "";
    let cursor = 0;
    for (const sp of evidenceSpans(f)) {
      if (sp.s > cursor) p.appendChild(text(ftext.slice(cursor, sp.s)));
      p.appendChild(h("mark", { class: "evidence", title: `标注依据 · ${sp.why}` }, ftext.slice(sp.s, sp.e)));
      cursor = sp.e;
    }
    if (cursor < ftext.length) p.appendChild(text(ftext.slice(cursor)));
    return p;
  }

  /** The labels in force for a scheme: the confirmed ones if an analyst confirmed it, else the auto ones. */
  function effectiveLabels(f, scheme) {
    const confirmed = f.tags && f.tags.confirmed && f.tags.confirmed[scheme];
    if (Array.isArray(confirmed)) return confirmed.slice();
    const auto = (f.tags && f.tags.auto && f.tags.auto[scheme]) || [];
    return auto.map((t) => t.label);
  }

  function tagBlock(f) {
    const auto = (f.tags && f.tags.auto) || {};
    const confirmed = (f.tags && f.tags.confirmed) || {};
    const box = h("div", { class: "finding-tags" });
    for (const scheme of schemeIds([...Object.keys(auto), ...Object.keys(confirmed)])) {
      const autoTags = auto[scheme] || [];
      const conf = confirmed[scheme];
      if (!autoTags.length && !Array.isArray(conf)) continue;
      const row = h("div", { class: "tag-line", "data-scheme": scheme }, h("span", { class: "scheme-name" }, schemeName(scheme)));
      if (Array.isArray(conf)) {
        if (!conf.length) row.appendChild(h("span", { class: "tag tag-confirmed tag-none" }, "✓ 已确认：无"));
        for (const label of conf) {
          row.appendChild(
            h("span", { class: "tag tag-confirmed", "data-label": label, "data-source": "confirmed", title: "分析员已确认" },
              h("span", { class: "tag-check" }, "✓"), label, h("span", { class: "tag-badge" }, "已确认"))
          );
        }
        for (const t of autoTags) {
          if (conf.includes(t.label)) continue;
          row.appendChild(h("span", { class: "tag tag-auto tag-overridden", "data-label": t.label, title: "自动标签，已被分析员更正" }, t.label));
        }
      } else {
        for (const t of autoTags) {
          const why = (t.evidence || []).map((e) => e.text).filter(Boolean).join("、");
          row.appendChild(
            h("span", {
              class: "tag tag-auto",
              "data-label": t.label,
              "data-source": "auto",
              title: `自动标注 · 置信度 ${fmtNumber(t.score)}${why ? ` · 依据：${why}` : ""}`,
            }, t.label, t.score !== undefined && t.score !== null ? h("span", { class: "tag-score" }, Number(t.score).toFixed(2)) : null)
          );
        }
      }
      box.appendChild(row);
    }
    if (!box.childNodes.length) box.appendChild(h("span", { class: "muted small" }, "暂无标签"));
    return box;
  }

  function findingCard(f) {
    const card = h("article", { class: "finding", id: `finding-${f.id}`, "data-finding-id": f.id, "data-testid": "finding" });
    fillFindingCard(card, f);
    return card;
  }

  function fillFindingCard(card, f) {
    const meta = [
      f.page ? `第 ${f.page} 页` : null,
      f.unit,
      f.section,
    ].filter(Boolean);
    const head = h(
      "div",
      { class: "finding-head" },
      // the library's number, the one search, the similar page, the reports and the XLSX show
      h("a", { class: "finding-id", href: `#/findings/${encodeURIComponent(f.id)}`, title: f.local_id ? `本文第 ${f.local_id.replace(/^F0*/, "")} 条` : null }, `问题 #${f.id}`),
      f.marker ? h("span", { class: "finding-marker" }, f.marker) : null,
      h("span", { class: "finding-meta muted" }, meta.join(" · ")),
      h(
        "span",
        { class: "finding-actions" },
        h("button", { type: "button", class: "link-button", onclick: () => focusFinding(f.id, { scrollText: true }) }, "定位原文"),
        h("button", { type: "button", class: "link-button similar-button", onclick: () => toggleSimilar(card, f) }, "相似问题"),
        can("analyst")
          ? h("button", { type: "button", class: "link-button edit-tags", "data-testid": "edit-tags", onclick: () => openTagEditor(card, f) }, "更正标签")
          : null
      )
    );
    fill(card, 
      head,
      findingText(f),
      f.detail ? h("p", { class: "finding-detail" }, h("span", { class: "muted" }, "问题表现："), f.detail) : null,
      tagBlock(f),
      h("div", { class: "tag-editor-slot" }),
      h("div", { class: "similar-slot" })
    );
  }

  async function openTagEditor(card, f) {
    const slot = $(".tag-editor-slot", card);
    if (slot.firstChild) {
      fill(slot);
      return;
    }
    const tax = await loadTaxonomy();
    const schemes = (tax && tax.schemes) || {};
    const form = h("form", { class: "tag-editor", "data-testid": "tag-editor" });
    const confirmedNow = (f.tags && f.tags.confirmed) || {};
    for (const scheme of schemeIds(Object.keys(schemes))) {
      const def = schemes[scheme];
      if (!def) continue;
      const current = new Set(effectiveLabels(f, scheme));
      const confirmBox = h("input", { type: "checkbox", class: "confirm-scheme", checked: Array.isArray(confirmedNow[scheme]) });
      const options = h("div", { class: "tag-options" });
      for (const label of def.labels || []) {
        const name = typeof label === "string" ? label : label.name || label.label;
        const input = h("input", { type: "checkbox", name: scheme, value: name, checked: current.has(name) });
        input.addEventListener("change", () => { confirmBox.checked = true; });
        options.appendChild(h("label", { class: "tag-option" }, input, h("span", null, name)));
      }
      form.appendChild(
        h(
          "fieldset",
          { "data-scheme": scheme },
          h("legend", null, def.name || schemeName(scheme),
            h("label", { class: "confirm-label" }, confirmBox, "保存为已确认")),
          options
        )
      );
    }
    const status = h("span", { class: "form-error", role: "alert" });
    const save = h("button", { type: "submit", class: "primary small", "data-testid": "save-tags" }, "保存更正");
    add(form, 
      h("p", { class: "muted small" }, "勾选正确的标签；改动过的方案会保存为“已确认”，之后重新分析也不会被覆盖。"),
      h("div", { class: "editor-actions" }, save,
        h("button", { type: "button", class: "small", onclick: () => fill(slot) }, "取消"), status)
    );
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const tags = {};
      for (const fs of $$("fieldset", form)) {
        if (!$(".confirm-scheme", fs).checked) continue;
        tags[fs.getAttribute("data-scheme")] = $$(".tag-option input:checked", fs).map((i) => i.value);
      }
      if (!Object.keys(tags).length) {
        status.textContent = "没有需要保存的更改（请勾选或取消标签）";
        return;
      }
      save.disabled = true;
      status.textContent = "";
      try {
        const updated = await api("PATCH", `/findings/${encodeURIComponent(f.id)}/tags`, { body: { tags } });
        const next = updated && updated.finding ? updated.finding : updated;
        fillFindingCard(card, { ...f, ...next });
        card.classList.add("saved");
        scrollWithin(card.closest(".finding-list"), card, false);
        setTimeout(() => card.classList.remove("saved"), 1500);
        showMessage("标签已更正并确认", "info");
      } catch (e) {
        save.disabled = false;
        status.textContent = e.message;
        if (e.status !== 401) showError(e);
      }
    });
    fill(slot, form);
  }

  async function toggleSimilar(card, f) {
    const slot = $(".similar-slot", card);
    if (slot.firstChild) {
      fill(slot);
      return;
    }
    fill(slot, loading("查找相似问题…"));
    try {
      const data = await api("GET", `/findings/${encodeURIComponent(f.id)}/similar`, { query: { limit: 5 } });
      const results = (data.results || []).filter((r) => String(r.finding_id) !== String(f.id));
      fill(slot, 
        h("div", { class: "similar-box" },
          h("h4", null, "相似问题（其他文档、其他轮次）"),
          results.length ? h("ol", { class: "similar-list" }, results.map((r) => h("li", null, resultSummary(r)))) : h("p", { class: "muted" }, "没有找到相似问题"))
      );
    } catch (e) {
      fill(slot, h("p", { class: "form-error" }, e.message));
    }
  }

  function resultSummary(r) {
    return h(
      "div",
      { class: "result-line", "data-finding-id": r.finding_id },
      r.finding_id ? h("a", { class: "finding-no", href: `#/findings/${encodeURIComponent(r.finding_id)}` }, `#${r.finding_id}`) : null,
      h("span", { class: "result-text" }, r.text),
      h("span", { class: "muted small result-meta" },
        " — ", [r.unit, r.round].filter(Boolean).join(" · "), r.unit || r.round ? " · " : "",
        documentLink(r.document_id, r.document || "原文", r.finding_id))
    );
  }

  const metricName = (s) => (s.metric === "other" && (!s.name || s.name === "other") ? "其他数字" : s.name || s.metric);

  function statisticsTable(stats) {
    const rows = stats.map((s) =>
      h(
        "tr",
        { "data-metric": s.metric },
        h("td", null, metricName(s)),
        // the server's display: amounts of 10万元 or more in 万元/亿元 (1260.5万元, never 12605000元)
        h("td", { class: "num" }, s.display || `${fmtNumber(s.value)}${s.unit || ""}`),
        h("td", null, s.qualifier || ""),
        h("td", { class: "quote" }, s.quote || "")
      )
    );
    return table("statistics-table", ["指标", "数值", "限定", "原文"], rows, { empty: "本文档没有提取到统计数字" });
  }

  // ---------------------------------------------------------------------------------------------
  // 上传

  function viewUpload(root) {
    if (!can("analyst")) {
      add(root, pageHeader("上传报告"), h("p", { class: "error-box" }, "当前账号没有上传权限，请联系管理员。"));
      return;
    }
    const input = h("input", {
      id: "upload-input",
      type: "file",
      name: "files",
      multiple: true,
      accept: ".pdf,.docx,.txt,.htm,.html,application/pdf,text/plain,text/html",
    });
    const selected = h("ul", { id: "upload-selected", class: "file-list" });
    const chosen = h("span", { class: "muted", id: "upload-chosen" }, "未选择文件");
    const showSelected = () => {
      const files = Array.from(input.files || []);
      chosen.textContent = files.length ? `已选择 ${files.length} 个文件` : "未选择文件";
      fill(selected,
        ...files.map((f) => h("li", null, f.name, h("span", { class: "muted" }, ` ${fmtSize(f.size)}`)))
      );
    };
    input.addEventListener("change", showSelected);
    const drop = h(
      "label",
      { class: "drop-zone", for: "upload-input", id: "drop-zone" },
      h("strong", null, "选择或拖入报告文件"),
      h("span", { class: "muted" }, "支持 PDF（含扫描件，自动文字识别）、DOCX、DOC/WPS/RTF、OFD、图片（PNG/JPG/TIFF）、TXT（UTF-8/GBK/UTF-16）、网页 HTML，可多选"),
      h("span", { class: "button file-button" }, "选择文件"),
      chosen,
      input
    );
    drop.addEventListener("dragover", (ev) => { ev.preventDefault(); drop.classList.add("dragging"); });
    drop.addEventListener("dragleave", () => drop.classList.remove("dragging"));
    drop.addEventListener("drop", (ev) => {
      ev.preventDefault();
      drop.classList.remove("dragging");
      if (ev.dataTransfer && ev.dataTransfer.files.length) {
        input.files = ev.dataTransfer.files;
        showSelected();
      }
    });
    const field = (id, label, attrs = {}) =>
      h("div", { class: "field" }, h("label", { for: id }, label), h("input", { id, name: id.replace("upload-", ""), type: "text", ...attrs }));
    const progress = h("progress", { id: "upload-progress", max: 100, value: 0 });
    const progressText = h("span", { id: "upload-progress-text", class: "muted" });
    const submit = h("button", { id: "upload-submit", type: "submit", class: "primary" }, "上传并分析");
    const formError = h("div", { id: "upload-error", class: "form-error", role: "alert" });
    const form = h(
      "form",
      { id: "upload-form", class: "panel upload-form", novalidate: true },
      drop,
      selected,
      h("div", { class: "field-row" },
        field("upload-round", "巡察轮次", { placeholder: "如：十四届县委第六轮" }),
        field("upload-unit", "被巡察单位", { placeholder: "如：县医保局党组" }),
        field("upload-kind", "巡察类型", { placeholder: "如：专项巡察", list: "kind-options" }),
        field("upload-date", "日期", { placeholder: "如：2024-06-08", pattern: "\\d{4}-\\d{2}-\\d{2}" })),
      h("datalist", { id: "kind-options" },
        ["常规巡察", "专项巡察", "机动巡察", "巡察“回头看”", "村（社区）巡察", "交叉巡察", "提级巡察"].map((k) => h("option", { value: k }))),
      h("p", { class: "muted small" }, "以上信息可留空，系统会从报告正文中识别；填写后以填写的为准。"),
      h("div", { class: "upload-actions" }, submit, h("div", { class: "progress-wrap", id: "upload-progress-wrap", hidden: true }, progress, progressText)),
      formError
    );
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      fill(formError);
      const files = Array.from(input.files || []);
      if (!files.length) {
        formError.textContent = "请先选择要上传的文件";
        return;
      }
      const date = $("#upload-date", form).value.trim();
      if (date && !/^\d{4}-\d{2}-\d{2}$/.test(date)) {
        formError.textContent = "日期格式应为 YYYY-MM-DD，如 2024-06-08";
        return;
      }
      const fd = new FormData();
      for (const f of files) fd.append("files", f, f.name);
      for (const key of ["round", "unit", "kind", "date"]) {
        const v = $(`#upload-${key}`, form).value.trim();
        if (v) fd.append(key, v);
      }
      submit.disabled = true;
      startUpload(fd, files, { progress, progressText, formError, submit, input, selected, wrap: "#upload-progress-wrap" });
    });
    const jobPanel = h("section", { id: "job-panel", class: "panel", hidden: true });
    add(root, pageHeader("上传报告"), form, importForm(), jobPanel);
    if (state.job) renderJob();
  }

  /** 问题清单 / 整改台账 import: one finding per row (POST /imports), stored by the same background job. */
  function importForm() {
    const input = h("input", {
      id: "import-input",
      type: "file",
      name: "file",
      accept: ".xlsx,.csv,.jsonl,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet,text/csv",
    });
    const selected = h("ul", { id: "import-selected", class: "file-list" });
    const progress = h("progress", { id: "import-progress", max: 100, value: 0 });
    const progressText = h("span", { id: "import-progress-text", class: "muted" });
    const submit = h("button", { id: "import-submit", type: "submit" }, "导入清单");
    const formError = h("div", { id: "import-error", class: "form-error", role: "alert" });
    const result = h("div", { id: "import-result" });
    input.addEventListener("change", () => {
      const f = (input.files || [])[0];
      fill(selected, f ? h("li", null, f.name, h("span", { class: "muted" }, ` ${fmtSize(f.size)}`)) : null);
    });
    const form = h(
      "form",
      { id: "import-form", class: "panel upload-form", novalidate: true },
      h("h2", null, "导入问题清单"),
      h("p", { class: "muted small" },
        "Excel（.xlsx）、CSV（UTF-8/GBK）或 JSONL，每行一条问题。需有“问题描述”列（如 问题、存在问题、问题表现）；",
        "被巡察单位、巡察轮次、巡察类型、日期、整改状态 各列可选。有错误的行会列出行号并跳过。"),
      h("label", { class: "button file-button", for: "import-input" }, "选择清单文件"),
      input,
      selected,
      h("div", { class: "upload-actions" }, submit, h("div", { class: "progress-wrap", id: "import-progress-wrap", hidden: true }, progress, progressText)),
      formError,
      result
    );
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      fill(formError);
      fill(result);
      const f = (input.files || [])[0];
      if (!f) {
        formError.textContent = "请先选择要导入的清单文件";
        return;
      }
      const fd = new FormData();
      fd.append("file", f, f.name);
      submit.disabled = true;
      startUpload(fd, [f], {
        progress, progressText, formError, submit, input, selected, wrap: "#import-progress-wrap", url: `${API}/imports`,
        onAccepted: (data) => {
          const skipped = Array.isArray(data.skipped) ? data.skipped : [];
          fill(result,
            h("p", { id: "import-summary" }, `已读取 ${data.rows} 行问题，跳过 ${skipped.length} 行；正在向量化、标注并入库…`),
            skipped.length ? h("ul", { class: "item-errors", id: "import-skipped" }, skipped.map((s) => h("li", null, s.message))) : null);
        },
      });
    });
    return form;
  }

  function startUpload(fd, files, ui) {
    const xhr = new XMLHttpRequest();
    $(ui.wrap).hidden = false;
    ui.progress.value = 0;
    ui.progressText.textContent = "正在上传…";
    xhr.upload.addEventListener("progress", (ev) => {
      if (!ev.lengthComputable) return;
      const pct = Math.round((ev.loaded / ev.total) * 100);
      ui.progress.value = pct;
      ui.progressText.textContent = `上传中 ${pct}%（${fmtSize(ev.loaded)} / ${fmtSize(ev.total)}）`;
    });
    xhr.addEventListener("load", () => {
      ui.submit.disabled = false;
      let data = null;
      try {
        data = JSON.parse(xhr.responseText);
      } catch (_) {
        data = null;
      }
      if (xhr.status === 401) {
        handleUnauthorized();
        return;
      }
      if (xhr.status < 200 || xhr.status >= 300) {
        const err = errorFrom(xhr.status, data);
        const rejected = (data && data.error && data.error.items) || [];
        ui.progressText.textContent = "上传失败";
        // several files refused at once: the heading names none of the problems (the API's message
        // repeats the first file's), each file's own problem is on its own line below
        const heading = rejected.length > 1 ? `${rejected.length} 个文件均未通过检查，没有上传：` : err.message;
        fill(ui.formError, h("p", { id: "upload-error-heading" }, heading), itemErrors(rejected));
        showMessage(rejected.length > 1 ? `${rejected.length} 个文件均未通过检查，没有上传（各文件的原因见上传表单）` : heading, "error");
        return;
      }
      ui.progress.value = 100;
      ui.progressText.textContent = "上传完成，正在分析…"; // renderJob says when the analysis has finished
      ui.input.value = "";
      fill(ui.selected);
      const chosen = $("#upload-chosen");
      if (chosen && ui.input.id === "upload-input") chosen.textContent = "未选择文件"; // the files went with the upload
      if (ui.onAccepted) ui.onAccepted(data);
      state.job = {
        id: data.job_id,
        status: data.status || "queued",
        total: (data.items || []).length || files.length,
        done: 0,
        failed: 0,
        items: data.items || [],
      };
      renderJob();
      pollJob(data.job_id);
    });
    xhr.addEventListener("error", () => {
      ui.submit.disabled = false;
      ui.progressText.textContent = "上传失败";
      ui.formError.textContent = "网络错误，上传未完成";
    });
    xhr.open("POST", ui.url || `${API}/documents`);
    xhr.setRequestHeader("X-Requested-With", "xuncha");
    xhr.setRequestHeader("Accept", "application/json");
    xhr.send(fd);
  }

  function itemErrors(items) {
    if (!Array.isArray(items) || !items.length) return null;
    return h("ul", { class: "item-errors" },
      items.filter((i) => i.error).map((i) => h("li", null, h("strong", null, i.name || `文件 ${i.index + 1}`), "：", i.error.message || i.error.code)));
  }

  function stopJobPolling() {
    clearTimeout(state.jobTimer);
    state.jobTimer = null;
  }

  function pollJob(jobId) {
    stopJobPolling();
    const tick = async () => {
      try {
        const job = await api("GET", `/jobs/${encodeURIComponent(jobId)}`);
        if (!state.job || state.job.id !== jobId) return;
        state.job = { ...state.job, ...job, id: job.id || jobId };
        renderJob();
        if (job.status === "done" || job.status === "failed") {
          stopJobPolling();
          const c = jobCounts(job);
          showMessage(`处理完成：${c.summary}`, c.error ? "error" : "info");
          return;
        }
      } catch (e) {
        if (e.status === 401) return;
        if (e.status === 404) {
          showError(e);
          return;
        }
      }
      state.jobTimer = setTimeout(tick, POLL_MS);
    };
    state.jobTimer = setTimeout(tick, POLL_MS / 2);
  }

  /** A job's counts from its items, so that they add up: every file is exactly one of 新入库 / 重复 /
   *  失败 / 等待（排队或处理中）. (The API's ``done`` already includes the failed files; adding
   *  ``failed`` to it again read 已完成（3 / 2）for a batch with one duplicate and one bad file.) */
  function jobCounts(job) {
    const items = job.items || [];
    const n = (status) => items.filter((i) => i.status === status).length;
    const c = { stored: n("stored"), duplicate: n("duplicate"), error: n("error"), total: items.length || job.total || 0 };
    c.processed = c.stored + c.duplicate + c.error;
    c.waiting = c.total - c.processed;
    c.summary = [`新入库 ${c.stored} 份`, `重复 ${c.duplicate} 份`, `失败 ${c.error} 份`, c.waiting ? `待处理 ${c.waiting} 份` : null]
      .filter(Boolean).join("，");
    return c;
  }

  /** What a stored document's text did not name (轮次, 被巡察单位), as the prompt beside its file says it. */
  function missingFields(doc) {
    const missing = [];
    if (!doc.round) missing.push("巡察轮次");
    if (!(doc.units || []).length) missing.push("被巡察单位");
    return missing;
  }

  /** Once a job has finished, each newly stored document is read back (GET /documents/{id}); those
   *  whose text named no round or no unit get a prompt beside their file (see missingPrompt). */
  async function checkJobDocuments(job) {
    const ids = (job.items || [])
      .filter((it) => it.status === "stored" && it.document_id !== null && it.document_id !== undefined)
      .map((it) => it.document_id);
    const docs = {};
    await Promise.all(ids.map(async (id) => {
      try {
        docs[id] = await api("GET", `/documents/${encodeURIComponent(id)}`);
      } catch (e) {
        docs[id] = null; // deleted meanwhile or unreadable: no prompt
      }
    }));
    if (!state.job || state.job.id !== job.id) return;
    state.job.docs = docs;
    renderJob();
  }

  /** The prompt beside an uploaded file whose document names no round or unit: a 补充 button opens the
   *  document's own 编辑 form (toggleDocumentEditor) in place; once saved the prompt goes. */
  function missingPrompt(it) {
    const docs = state.job && state.job.docs;
    const doc = docs && it.status === "stored" ? docs[it.document_id] : null;
    if (!doc || !can("analyst")) return null;
    const missing = missingFields(doc);
    if (!missing.length) return null;
    const slot = h("div", { class: "job-missing-slot" });
    const open = () => {
      for (const other of document.querySelectorAll(".job-missing-slot")) if (other !== slot) fill(other);
      toggleDocumentEditor(slot, doc, (updated) => {
        state.job.docs = { ...state.job.docs, [updated.id]: updated };
        renderJob();
        showMessage("文档信息已更新", "info");
      });
    };
    return h("div", { class: "job-missing", "data-document-id": doc.id, "data-missing": missing.join(" ") },
      h("span", { class: "job-missing-text" }, `未识别出${missing.join("和")}，请补充`),
      h("button", { type: "button", class: "small job-missing-edit", onclick: open }, "补充信息"),
      slot);
  }

  function renderJob() {
    const panel = $("#job-panel");
    const job = state.job;
    if (!panel || !job) return;
    panel.hidden = false;
    const finished = job.status === "done" || job.status === "failed";
    if (finished && !job.docsRequested) {
      job.docsRequested = true;
      checkJobDocuments(job);
    }
    const counts = jobCounts(job);
    const total = counts.total;
    const processed = counts.processed;
    const uploadText = $("#upload-progress-text");
    if (uploadText && uploadText.textContent.startsWith("上传完成")) {
      uploadText.textContent = finished ? "上传完成，分析已结束" : `上传完成，正在分析（${processed} / ${total}）…`;
    }
    const items = (job.items || []).map((it) =>
      h(
        "li",
        { class: `job-item status-${it.status}`, "data-status": it.status, "data-index": it.index },
        h("span", { class: "job-name" }, it.name),
        h("span", { class: `status-pill ${it.status}` }, JOB_STATUS[it.status] || it.status),
        it.pages && it.status === "running"
          ? h("span", { class: "job-pages muted", "data-pages-done": it.pages.done, "data-pages-total": it.pages.total },
            `文字识别（OCR）第 ${it.pages.done} / ${it.pages.total} 页`,
            h("progress", { class: "job-page-progress", max: Math.max(1, it.pages.total), value: it.pages.done }))
          : null,
        it.findings !== null && it.findings !== undefined && (it.status === "stored" || it.status === "duplicate")
          ? h("span", { class: "muted" }, `问题 ${it.findings} 条`)
          : null,
        it.document_id !== null && it.document_id !== undefined
          ? h("a", { class: "job-doc-link", href: `#/documents/${encodeURIComponent(it.document_id)}`, "data-document-id": it.document_id },
            it.status === "duplicate" ? "查看已有文档" : "查看文档")
          : null,
        it.error ? h("span", { class: "form-error" }, it.error.message || it.error.code) : null,
        missingPrompt(it)
      )
    );
    fill(panel, 
      h("h3", null, "处理进度"),
      h("p", { id: "job-status", "data-status": job.status, class: finished ? "" : "working" },
        finished ? `任务 ${job.id} 已结束：` : `任务 ${job.id}：${JOB_STATUS[job.status] || job.status}（已处理 ${processed} / ${total}）`,
        finished ? h("span", { id: "job-counts" }, `共 ${total} 个文件，${counts.summary}`) : null),
      h("progress", { id: "job-progress", max: Math.max(1, total), value: finished ? Math.max(1, total) : processed }),
      h("ul", { id: "job-items", class: "job-items" }, items)
    );
  }

  // ---------------------------------------------------------------------------------------------
  // 检索

  async function viewSearch(root, params) {
    await loadTaxonomy();
    const q = params.get("q") || "";
    const like = params.get("like");
    const values = { round: params.get("round") || "", unit: params.get("unit") || "", label: params.get("label") || "" };
    const limit = Number(params.get("limit")) || 20;
    const page = Math.max(1, Number(params.get("page")) || 1);
    const labelSelect = h("select", { id: "search-label", name: "label" }, h("option", { value: "" }, "全部标签"));
    const schemes = (state.taxonomy && state.taxonomy.schemes) || {};
    for (const scheme of schemeIds(Object.keys(schemes))) {
      const def = schemes[scheme];
      if (!def) continue;
      labelSelect.appendChild(
        h("optgroup", { label: def.name || schemeName(scheme) },
          (def.labels || []).map((l) => {
            const name = typeof l === "string" ? l : l.name || l.label;
            return h("option", { value: name, selected: name === values.label }, name);
          }))
      );
    }
    const form = h(
      "form",
      { id: "search-form", class: "panel search-form", role: "search" },
      h("div", { class: "search-main" },
        h("input", { id: "search-input", name: "q", type: "search", value: q, placeholder: "描述要找的问题，如：村干部违规领取补贴；留空则浏览全部问题", autocomplete: "off" }),
        h("button", { id: "search-submit", type: "submit", class: "primary" }, "检索")),
      h("div", { class: "field-row" },
        h("div", { class: "field" }, h("label", { for: "search-round" }, "轮次"), h("input", { id: "search-round", name: "round", value: values.round, placeholder: "如：第六轮" })),
        h("div", { class: "field" }, h("label", { for: "search-unit" }, "单位"), h("input", { id: "search-unit", name: "unit", value: values.unit, placeholder: "如：教育局" })),
        h("div", { class: "field" }, h("label", { for: "search-label" }, "标签"), labelSelect),
        h("div", { class: "field narrow" }, h("label", { for: "search-limit" }, "条数"),
          h("select", { id: "search-limit", name: "limit" }, [10, 20, 50, 100].map((n) => h("option", { value: n, selected: n === limit }, String(n))))))
    );
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const qs = new URLSearchParams();
      for (const name of ["q", "round", "unit", "label", "limit"]) {
        const v = form.elements[name].value.trim();
        if (v && !(name === "limit" && v === "20")) qs.set(name, v);
      }
      const target = `#/search${qs.toString() ? `?${qs}` : ""}`;
      if (location.hash === target) route();
      else location.hash = target;
    });
    const mode = like ? "similar" : q ? "search" : "browse";
    const results = h("div", { id: "search-results", class: "results", "data-mode": mode });
    add(root, pageHeader("检索"), form, results);
    if (!like) $("#search-input", form).focus();

    add(results, loading("检索中…"));
    if (like) {
      const [data, self] = await Promise.all([
        api("GET", `/findings/${encodeURIComponent(like)}/similar`, { query: { limit } }),
        api("GET", `/findings/${encodeURIComponent(like)}`),
      ]);
      fill(results,
        comparedFinding(self),
        h("p", { class: "result-summary" }, `与问题 #${like} 相似的问题：${(data.results || []).length} 条 `, h("a", { href: "#/search" }, "清除")),
        ...(data.results || []).map((r, i) => searchResult(r, i))
      );
    } else if (q) {
      const data = await api("GET", "/search", { query: { q, ...values, limit } });
      const list = data.results || [];
      // The API leaves out what is under its relevance floor; of the rest, results graded 低 are
      // folded away when there are better ones, so the page never ends in a tail of weak matches.
      const strong = list.filter((r) => r.relevance === "高" || r.relevance === "中");
      const weak = strong.length ? list.filter((r) => !strong.includes(r)) : [];
      const shown = strong.length ? strong : list;
      fill(results,
        h("p", { class: "result-summary" }, `“${data.query ?? q}”：${shown.length} 条结果（按相关度排序，相近表述已合并）`),
        ...shown.map((r, i) => searchResult(r, i)),
        weak.length
          ? h("details", { id: "weak-results", class: "weak-results" },
            h("summary", null, `另有 ${weak.length} 条相关度低的结果`),
            weak.map((r, i) => searchResult(r, shown.length + i)))
          : null
      );
      if (!list.length) results.appendChild(h("p", { class: "muted" }, "没有找到相关问题，换个说法试试。"));
    } else {
      const data = await api("GET", "/findings", { query: { ...values, limit, offset: (page - 1) * limit } });
      const list = data.items || [];
      const total = data.total ?? list.length;
      const base = new URLSearchParams(params);
      fill(results, 
        h("p", { class: "result-summary" }, `问题浏览：共 ${fmtNumber(total)} 条`),
        ...list.map((r, i) => searchResult({ ...r, finding_id: r.id }, (page - 1) * limit + i)),
        pager(page, limit, total, (p) => {
          base.set("page", String(p));
          return `#/search?${base}`;
        })
      );
    }
  }

  /** The finding a similar page compares to, first on the page: what "similar" is measured against. */
  function comparedFinding(f) {
    return h("article", { class: "search-result compared", id: "compared-finding", "data-finding-id": f.id },
      h("div", { class: "result-head" },
        h("strong", null, "对照问题"),
        h("a", { class: "finding-no", href: `#/findings/${encodeURIComponent(f.id)}` }, `问题 #${f.id}`),
        h("span", { class: "muted small" }, [f.unit, f.round, f.page ? `第 ${f.page} 页` : null].filter(Boolean).join(" · "))),
      h("p", { class: "result-text" }, f.text),
      simpleTags(f.labels),
      h("div", { class: "result-foot small" }, documentLink(f.document_id, "查看原文", f.id)));
  }

  // ---------------------------------------------------------------------------------------------
  // 一条问题：原文、上下文、标签与依据、相似问题

  async function viewFinding(root, id) {
    add(root, loading());
    const f = await api("GET", `/findings/${encodeURIComponent(id)}`);
    const [doc, similar] = await Promise.all([
      api("GET", `/documents/${encodeURIComponent(f.document_id)}`),
      api("GET", `/findings/${encodeURIComponent(f.id)}/similar`, { query: { limit: 5 } }).catch(() => ({ results: [] })),
      loadTaxonomy(),
    ]);
    fill(root);
    const textOf = doc.text || "";
    const before = textOf.slice(Math.max(0, f.start - 160), f.start);
    const after = textOf.slice(f.end, f.end + 160);
    const confirmed = (f.tags && f.tags.confirmed) || {};
    const auto = (f.tags && f.tags.auto) || {};
    const tagRows = schemeIds(Object.keys(f.labels || {})).filter((sc) => (f.labels || {})[sc]).map((scheme) => {
      const labels = f.labels[scheme] || [];
      const evidence = (label) => ((auto[scheme] || []).find((t) => t.label === label) || {}).evidence || [];
      return h("div", { class: "tag-scheme", "data-scheme": scheme },
        h("h4", null, schemeName(scheme), scheme in confirmed ? h("span", { class: "muted small" }, "（分析员已确认）") : null),
        labels.length
          ? h("ul", { class: "tag-evidence-list" }, labels.map((label) => {
            const words = [...new Set(evidence(label).map((e) => (typeof e === "string" ? e : e && e.text)).filter(Boolean))];
            return h("li", null, h("span", { class: "tag" }, label),
              words.length ? h("span", { class: "tag-evidence muted small" }, `依据：${words.join("、")}`) : null);
          }))
          : h("p", { class: "muted small" }, "均不适用"));
    });
    add(root,
      h("p", { class: "breadcrumb" }, h("a", { href: `#/documents/${encodeURIComponent(f.document_id)}?f=${encodeURIComponent(f.id)}` }, `‹ ${doc.title || doc.source_name}`)),
      pageHeader(`问题 #${f.id}`),
      h("div", { class: "finding-page" },
        h("p", { class: "muted", id: "finding-meta" }, [f.unit, f.round, doc.source_name, f.page ? `第 ${f.page} 页` : null, f.section].filter(Boolean).join(" · ")),
        h("section", { class: "panel" }, h("h3", null, "问题"), h("p", { class: "finding-text", id: "finding-text" }, f.text),
          f.detail ? h("p", { class: "finding-detail" }, h("span", { class: "muted" }, "问题表现："), f.detail) : null),
        h("section", { class: "panel" }, h("h3", null, "原文上下文"),
          h("p", { class: "context", id: "finding-context" }, before && f.start > 160 ? "…" : null, before, h("mark", null, textOf.slice(f.start, f.end)), after, after.length >= 160 ? "…" : null)),
        h("section", { class: "panel", id: "finding-tags" }, h("h3", null, "标签与依据"), tagRows.length ? tagRows : h("p", { class: "muted" }, "暂无标签")),
        h("section", { class: "panel", id: "finding-similar" }, h("h3", null, "相似问题"),
          (similar.results || []).length
            ? (similar.results || []).map((r) => resultSummary(r))
            : h("p", { class: "muted" }, "没有相关度足够的相似问题"),
          h("p", null, h("a", { href: `#/search?like=${encodeURIComponent(f.id)}` }, "查看更多相似问题 ›")))));
  }

  const RELEVANCE_CLASS = { 高: "high", 中: "medium", 低: "low" };

  // The finding's text with the spans the search matched marked (terms and concepts); text only,
  // never HTML, so a report's content can never become markup.
  function highlighted(text, spans) {
    const parts = [];
    let pos = 0;
    const ordered = spans.filter((s) => s.start >= 0 && s.end <= text.length && s.end > s.start)
      .sort((a, b) => a.start - b.start || b.end - a.end);
    for (const s of ordered) {
      if (s.start < pos) continue; // overlapping spans: the first (longest) wins
      if (s.start > pos) parts.push(text.slice(pos, s.start));
      parts.push(h("mark", { class: `hit-${s.kind === "concept" ? "concept" : "term"}` }, text.slice(s.start, s.end)));
      pos = s.end;
    }
    if (pos < text.length) parts.push(text.slice(pos));
    return parts;
  }

  function whyMatched(r) {
    const terms = r.matched_terms || [];
    const concepts = r.matched_concepts || [];
    if (!terms.length && !concepts.length) return null;
    return h("p", { class: "why-matched small muted", "data-testid": "why-matched" },
      terms.length ? `匹配词：${terms.join("、")}` : null,
      terms.length && concepts.length ? "；" : null,
      concepts.length ? `同类问题：${concepts.map((c) => `${c.name}（${c.family}）`).join("、")}` : null);
  }

  function searchResult(r, i) {
    const dups = r.duplicates || [];
    return h(
      "article",
      { class: "search-result", "data-finding-id": r.finding_id, "data-testid": "search-result" },
      h("div", { class: "result-head" },
        h("span", { class: "rank" }, String(i + 1)),
        h("a", { class: "finding-no", href: `#/findings/${encodeURIComponent(r.finding_id)}` }, `问题 #${r.finding_id}`),
        h("span", { class: "muted small" },
          [r.unit, r.round, r.page ? `第 ${r.page} 页` : null].filter(Boolean).join(" · ")),
        r.relevance ? h("span", { class: `relevance relevance-${RELEVANCE_CLASS[r.relevance] || "low"}`, title: "相关度" }, `相关度${r.relevance}`) : null),
      h("p", { class: "result-text" }, ...highlighted(r.text, r.highlights || [])),
      whyMatched(r),
      simpleTags(r.tags),
      h("div", { class: "result-foot small" },
        documentLink(r.document_id, r.document ? `原文：${r.document}` : "查看原文", r.finding_id),
        "  ",
        h("a", { href: `#/search?like=${encodeURIComponent(r.finding_id)}` }, "相似问题")),
      dups.length
        ? h("details", { class: "duplicates" },
          h("summary", null, `另有 ${dups.length} 条相近表述`),
          h("ul", null, dups.map((d) => h("li", null, resultSummary(d)))))
        : null
    );
  }

  // ---------------------------------------------------------------------------------------------
  // 共性问题

  async function viewClusters(root, params) {
    await loadTaxonomy();
    const stats = await api("GET", "/statistics");
    const allRounds = sortRounds((stats.by_round || []).map((r) => r.round).filter(Boolean));
    const chosenRounds = params.getAll("round");
    const units = params.get("units") || "";
    const minUnits = Number(params.get("min_units") || 2);
    const limit = Number(params.get("limit") || 20);
    const singletons = params.get("singletons") === "1";

    const form = h(
      "form",
      { id: "cluster-form", class: "panel cluster-form" },
      h("div", { class: "field" }, h("span", { class: "field-label" }, "轮次"),
        h("div", { class: "checks", id: "cluster-rounds" },
          allRounds.length
            ? allRounds.map((r) => h("label", { class: "check" }, h("input", { type: "checkbox", name: "round", value: r, checked: chosenRounds.includes(r) }), r))
            : h("span", { class: "muted" }, "暂无轮次"))),
      h("div", { class: "field-row" },
        h("div", { class: "field" }, h("label", { for: "cluster-units" }, "单位（逗号分隔，可写部分名称）"), h("input", { id: "cluster-units", name: "units", value: units, placeholder: "留空为全部单位" })),
        h("div", { class: "field narrow" }, h("label", { for: "cluster-min-units" }, "至少涉及单位数"), h("input", { id: "cluster-min-units", name: "min_units", type: "number", min: 1, max: 50, value: minUnits })),
        h("div", { class: "field narrow" }, h("label", { for: "cluster-limit" }, "显示条数"), h("input", { id: "cluster-limit", name: "limit", type: "number", min: 1, max: 200, value: limit })),
        h("div", { class: "field narrow" }, h("span", { class: "field-label" }, " "),
          h("label", { class: "check" }, h("input", { id: "cluster-singletons", type: "checkbox", name: "singletons", checked: singletons }), "包含个别问题")),
        h("div", { class: "field narrow" }, h("span", { class: "field-label" }, " "), h("button", { type: "submit", class: "primary", id: "cluster-submit" }, "分析")))
    );
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const qs = new URLSearchParams();
      for (const i of $$("input[name=round]:checked", form)) qs.append("round", i.value);
      if (form.elements.units.value.trim()) qs.set("units", form.elements.units.value.trim());
      qs.set("min_units", form.elements.min_units.value || "2");
      qs.set("limit", form.elements.limit.value || "20");
      if ($("#cluster-singletons", form).checked) qs.set("singletons", "1");
      const target = `#/clusters?${qs}`;
      if (location.hash === target) route();
      else location.hash = target;
    });

    const schemeSelect = h("select", { id: "chart-scheme", "aria-label": "标签方案" },
      schemeIds(Object.keys(stats.label_by_round || {})).filter((s) => (stats.label_by_round || {})[s])
        .map((s) => h("option", { value: s }, schemeName(s))));
    const catChart = h("div", { id: "chart-categories", class: "chart", "data-testid": "chart-categories" });
    const trendChart = h("div", { id: "chart-trend", class: "chart", "data-testid": "chart-trend" });
    // five lines are readable; twenty drew a tangle with a paged legend: the analyst asks for more
    const trendCount = h("select", { id: "trend-count", "aria-label": "显示的共性问题数" },
      [[5, "前 5 个"], [10, "前 10 个"], [20, "前 20 个"]].map(([n, name]) => h("option", { value: n }, name)));
    const list = h("ol", { id: "cluster-list", class: "cluster-list" });
    const summary = h("p", { id: "cluster-summary", class: "muted" }, "正在分析共性问题…");
    const recurrences = h("section", { id: "recurrences", class: "panel" });
    add(root, 
      pageHeader("共性问题"),
      form,
      h("div", { class: "chart-grid" },
        h("section", { class: "panel chart-card" }, h("div", { class: "chart-head" }, h("h3", null, "各轮次问题类别分布"), schemeSelect), catChart),
        h("section", { class: "panel chart-card" }, h("div", { class: "chart-head" }, h("h3", null, "主要共性问题跨轮次趋势"), trendCount), trendChart)),
      h("section", { class: "panel" }, h("h3", null, "共性问题（按系统性指数排序）"),
        h("p", { class: "muted small" }, "系统性指数 = 涉及单位数 × 涉及轮次数 × (1 + log10 问题条数)：跨单位、跨轮次反复出现的问题排在前面。"),
        summary, list),
      recurrences
    );

    const shownRounds = chosenRounds.length ? allRounds.filter((r) => chosenRounds.includes(r)) : allRounds;
    const drawCategories = () => renderCategoryChart(catChart, stats, schemeSelect.value, shownRounds, chosenRounds.length > 0);
    schemeSelect.addEventListener("change", drawCategories);
    drawCategories();

    const body = {
      rounds: chosenRounds,
      units: units.split(/[,，、\s]+/).map((s) => s.trim()).filter(Boolean),
      min_units: minUnits,
      limit,
      include_singletons: singletons,
    };
    let data;
    try {
      data = await api("POST", "/clusters", { body });
    } catch (e) {
      summary.textContent = e.message;
      summary.className = "form-error";
      renderTrendChart(trendChart, []);
      if (e.status !== 401 && e.status !== 404 && e.code !== "empty_library") showError(e);
      return;
    }
    const clusters = (data.clusters || []).slice().sort((a, b) => (b.systemic_score || 0) - (a.systemic_score || 0));
    const total = data.clusters_total ?? clusters.length;
    summary.textContent = `在 ${fmtNumber(data.findings)} 条问题中发现 ${fmtNumber(total)} 个共性问题`
      + (total > clusters.length ? `，显示前 ${clusters.length} 个` : "")
      + (data.stale ? "（最新入库的报告正在后台归并，稍后刷新可见）" : "");
    clusters.forEach((c, i) => list.appendChild(clusterItem(c, i, body)));
    if (!clusters.length) list.appendChild(h("li", { class: "muted" }, "所选范围内没有跨单位的共性问题，可降低“至少涉及单位数”或勾选“包含个别问题”。"));
    const drawTrend = () => renderTrendChart(trendChart, clusters, shownRounds, Number(trendCount.value) || 5);
    trendCount.addEventListener("change", () => { disposeChart(trendChart); drawTrend(); });
    drawTrend();
    renderRecurrences(recurrences, data.recurrences || []);
  }

  function memberItem(r) {
    return h("li", null, h("span", null, r.text), h("span", { class: "muted small" }, ` — ${[r.unit, r.round].filter(Boolean).join(" · ")}`));
  }

  // The server sends the first findings of each cluster (``size`` says how many it has); opening
  // "全部 N 条问题" fetches the rest of that one cluster.
  function clusterMembers(c, body) {
    const all = c.findings || [];
    const size = c.size ?? all.length;
    const list = h("ul", null, all.map(memberItem));
    const box = h("details", { class: "cluster-all" }, h("summary", null, `全部 ${size} 条问题`), list);
    if (size > all.length) {
      list.appendChild(h("li", { class: "muted small more" }, `……另有 ${size - all.length} 条，展开时载入`));
      let loaded = false;
      box.addEventListener("toggle", async () => {
        if (!box.open || loaded) return;
        loaded = true;
        try {
          const one = await api("POST", "/clusters", { body: { ...body, limit: 1, offset: 0, members: null, recurrences: 0, cluster_id: c.cluster_id } });
          const full = (one.clusters || [])[0];
          if (full) fill(list, ...(full.findings || []).map(memberItem));
        } catch (e) {
          loaded = false;
          showError(e);
        }
      });
    }
    return box;
  }

  function clusterItem(c, i, body) {
    const rounds = c.rounds || sortRounds(Object.keys(c.per_round || {}));  // the server orders rounds by number
    const per = c.per_round || {};
    const all = c.findings || [];
    return h(
      "li",
      { class: "cluster", "data-cluster-id": c.cluster_id, "data-testid": "cluster" },
      h("div", { class: "cluster-head" },
        h("span", { class: "rank" }, String(i + 1)),
        h("h4", { class: "cluster-label" }, c.title || c.label || c.cluster_id),
        h("span", { class: "score-pill", title: "系统性指数" }, `系统性指数 ${Number(c.systemic_score || 0).toFixed(1)}`)),
      h("div", { class: "cluster-facts small" },
        h("span", null, `${c.size ?? all.length} 条问题`),
        h("span", null, `${(c.units || []).length} 个单位`),
        h("span", null, `${rounds.length} 个轮次`),
        rounds.length ? h("span", { class: "trend-text" }, rounds.map((r) => `${r} ${per[r] ?? 0}`).join(" → ")) : null),
      (c.units || []).length ? h("div", { class: "tag-row" }, c.units.map((u) => h("span", { class: "tag unit" }, u))) : null,
      null,
      h("ul", { class: "representatives" },
        (c.representatives || []).map((r) =>
          h("li", null,
            h("span", null, r.text),
            h("span", { class: "muted small" }, ` — ${[r.unit, r.round].filter(Boolean).join(" · ")} `),
            h("a", { class: "small", href: `#/search?like=${encodeURIComponent(r.finding_id)}` }, "相似问题")))),
      (c.size ?? all.length) > (c.representatives || []).length ? clusterMembers(c, body) : null
    );
  }

  function renderRecurrences(section, items) {
    fill(section, 
      h("h3", null, `反复出现的问题（${items.length}）`),
      h("p", { class: "muted small" }, "同一单位在后一轮巡察中出现与前一轮相近的问题，可能整改不到位或问题反弹。"),
      table("recurrence-table", ["单位", "前一轮", "后一轮", "相似度"],
        items.map((r) =>
          h("tr", null,
            h("td", null, r.unit || ""),
            h("td", null, h("div", { class: "muted small" }, r.earlier_round || (r.earlier && r.earlier.round) || ""), (r.earlier && r.earlier.text) || ""),
            h("td", null, h("div", { class: "muted small" }, r.later_round || (r.later && r.later.round) || ""), (r.later && r.later.text) || ""),
            h("td", { class: "num" }, r.similarity !== undefined ? Number(r.similarity).toFixed(2) : ""))),
        { empty: "没有发现跨轮次反复出现的问题" })
    );
  }

  /** Drop the chart drawn in ``el`` (before it is drawn again with other data). */
  function disposeChart(el) {
    const chart = window.echarts && window.echarts.getInstanceByDom(el);
    if (!chart) return;
    chart.dispose();
    state.charts = state.charts.filter((c) => c !== chart);
  }

  function makeChart(el) {
    if (!window.echarts) {
      fill(el, h("p", { class: "muted" }, "图表组件未加载"));
      return null;
    }
    delete el.dataset.rendered;
    const chart = window.echarts.init(el, null, { renderer: "canvas" });
    chart.on("finished", () => { el.dataset.rendered = "1"; });
    state.charts.push(chart);
    return chart;
  }

  /** Round labels for axes: the prefix all rounds share (十四届县委) is dropped when there is one. */
  function roundAxisNames(rounds) {
    const prefixes = new Set(rounds.map((r) => String(r).split("第")[0]));
    if (rounds.length > 1 && prefixes.size === 1 && String(rounds[0]).includes("第")) {
      const prefix = [...prefixes][0];
      return rounds.map((r) => String(r).slice(prefix.length));
    }
    return rounds.map(String);
  }

  const CHART_FONT = '"Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", sans-serif';
  const short = (s, n) => (String(s).length > n ? `${String(s).slice(0, n)}…` : String(s));

  function renderCategoryChart(el, stats, scheme, allRounds, filtered) {
    const byRound = (stats.label_by_round || {})[scheme] || {};
    const rounds = sortRounds(Object.keys(byRound).filter((r) => !filtered || allRounds.includes(r)));
    const totals = new Map();
    for (const r of rounds) for (const [label, n] of Object.entries(byRound[r] || {})) totals.set(label, (totals.get(label) || 0) + Number(n));
    const labels = [...totals.entries()].sort((a, b) => b[1] - a[1]).slice(0, 15).map(([l]) => l);
    const old = state.charts.find((c) => c.getDom() === el);
    if (old) {
      old.dispose();
      state.charts = state.charts.filter((c) => c !== old);
    }
    if (!labels.length) {
      fill(el, h("p", { class: "muted chart-empty" }, "暂无分类数据"));
      return;
    }
    fill(el);
    const chart = makeChart(el);
    if (!chart) return;
    chart.setOption({
      textStyle: { fontFamily: CHART_FONT },
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, renderMode: "richText" },
      legend: { type: "scroll", top: 0 },
      grid: { left: 48, right: 16, top: 64, bottom: labels.length > 5 ? 96 : 40 },
      xAxis: {
        type: "category",
        data: labels,
        axisLabel: { interval: 0, rotate: labels.length > 5 ? 35 : 0, formatter: (v) => short(v, 8) },
      },
      yAxis: { type: "value", name: "问题数", minInterval: 1 },
      series: rounds.map((r) => ({
        name: !r || r === "null" || r === "None" ? "未标注轮次" : r,
        type: "bar",
        emphasis: { focus: "series" },
        data: labels.map((l) => Number((byRound[r] || {})[l] || 0)),
      })),
    });
  }

  function renderTrendChart(el, clusters, allRounds = [], count = 5) {
    const top = clusters.filter((c) => !c.singleton).slice(0, count);
    el.dataset.series = String(top.length);
    const roundSet = new Set(allRounds);
    for (const c of top) for (const r of Object.keys(c.per_round || {})) roundSet.add(r);
    const rounds = sortRounds([...roundSet]);
    if (!top.length || !rounds.length) {
      fill(el, h("p", { class: "muted chart-empty" }, "暂无共性问题趋势"));
      return;
    }
    fill(el);
    const chart = makeChart(el);
    if (!chart) return;
    chart.setOption({
      textStyle: { fontFamily: CHART_FONT },
      tooltip: { trigger: "axis", renderMode: "richText" },
      legend: { type: top.length > 5 ? "scroll" : "plain", top: 0, formatter: (n) => short(n, 14) },
      grid: { left: 48, right: 40, top: 64, bottom: 40 },
      xAxis: { type: "category", data: roundAxisNames(rounds), boundaryGap: false, axisLabel: { formatter: (v) => short(v, 12) } },
      yAxis: { type: "value", name: "问题数", minInterval: 1 },
      series: top.map((c, i) => ({
        name: `${i + 1}. ${c.label || c.cluster_id}`,
        type: "line",
        smooth: false,
        symbolSize: 8,
        data: rounds.map((r) => Number((c.per_round || {})[r] || 0)),
      })),
    });
  }

  // ---------------------------------------------------------------------------------------------
  // 统计

  async function viewStatistics(root) {
    await loadTaxonomy();
    add(root, pageHeader("统计"), loading());
    const s = await api("GET", "/statistics");
    root.lastChild.remove();
    const maxOf = (arr, key) => Math.max(1, ...arr.map((x) => Number(x[key]) || 0));
    const bar = (v, max) => h("span", { class: "bar" }, h("span", { class: "bar-fill", style: `width:${Math.round((100 * (Number(v) || 0)) / max)}%` }));
    // The server orders the rounds by their number and ends with the 未标明轮次 row (round null) of
    // what names no round, so that the rows add up to the 文档 / 问题 cards above.
    const byRound = s.by_round || [];
    const realRounds = byRound.filter((r) => r.round);
    const byUnit = (s.by_unit || []).slice().sort((a, b) => (b.findings || 0) - (a.findings || 0));
    const unitMax = maxOf(byUnit, "findings");
    const labelPanels = [];
    for (const scheme of schemeIds(Object.keys(s.by_label || {}))) {
      const rows = ((s.by_label || {})[scheme] || []).slice().sort((a, b) => b.count - a.count);
      if (!rows.length) continue;
      const max = maxOf(rows, "count");
      labelPanels.push(
        h("section", { class: "panel" }, h("h3", null, `${schemeName(scheme)}`),
          table(`label-table-${scheme}`, ["标签", "问题数", ""],
            rows.map((r) => h("tr", null, h("td", null, r.label), h("td", { class: "num" }, fmtNumber(r.count)), h("td", { class: "bar-cell" }, bar(r.count, max)))),
            { class: "label-table" }))
      );
    }
    add(root, 
      h("div", { class: "stat-cards" },
        h("div", { class: "stat-card" }, h("div", { class: "stat-value", id: "stat-documents" }, fmtNumber(s.documents)), h("div", { class: "muted" }, "文档")),
        h("div", { class: "stat-card" }, h("div", { class: "stat-value", id: "stat-findings" }, fmtNumber(s.findings)), h("div", { class: "muted" }, "问题")),
        h("div", { class: "stat-card" }, h("div", { class: "stat-value" }, fmtNumber(realRounds.length)), h("div", { class: "muted" }, "巡察轮次")),
        h("div", { class: "stat-card" }, h("div", { class: "stat-value" }, fmtNumber(byUnit.length)), h("div", { class: "muted" }, "被巡察单位"))),
      h("section", { class: "panel" }, h("h3", null, "报告中的统计数字（汇总）"),
        table("metric-table", ["指标", "合计", "各文件所载", "涉及文档"],
          (s.by_metric || []).map((m) => h("tr", { "data-metric": m.metric },
            h("td", null, metricName(m)),
            h("td", { class: "num", title: m.why || "" }, m.display || (m.total === null || m.total === undefined ? `—${m.why ? `（${m.why}）` : ""}` : fmtNumber(m.total))),
            h("td", { class: "small" }, (m.per_document || []).map((d) => `${d.document}：${d.display}`).join("；")),
            h("td", { class: "num" }, fmtNumber(m.documents)))),
          { empty: "暂无统计数字" })),
      h("div", { class: "two-col" },
        h("section", { class: "panel" }, h("h3", null, "按轮次"),
          table("round-table", ["轮次", "文档", "问题"],
            byRound.map((r) => h("tr", { class: r.round ? null : "unassigned-round" },
              h("td", null, r.round ? documentsLink({ round: r.round }, r.round) : documentsLink({ round: UNASSIGNED_ROUND }, r.name || UNASSIGNED_ROUND)),
              h("td", { class: "num" }, fmtNumber(r.documents)), h("td", { class: "num" }, fmtNumber(r.findings)))))),
        h("section", { class: "panel" }, h("h3", null, "按单位"),
          table("unit-table", ["单位", "问题", ""],
            byUnit.map((u) => h("tr", null, h("td", null, u.unit || "（未识别）"), h("td", { class: "num" }, fmtNumber(u.findings)), h("td", { class: "bar-cell" }, bar(u.findings, unitMax))))))),
      h("h3", { class: "section-title" }, "按标签"),
      h("div", { class: "label-grid", id: "label-tables" }, labelPanels.length ? labelPanels : h("p", { class: "muted" }, "暂无标签统计"))
    );
  }

  // ---------------------------------------------------------------------------------------------
  // 下载

  /** The summary's Markdown (service.summary.render_markdown: #, ##, paragraphs, > quotes, pipe
   *  tables) as elements, built with text nodes only, so a quoted finding can never become markup. */
  function markdownBlocks(md) {
    const out = [];
    const lines = String(md || "").split("\n");
    const cells = (line) => line.trim().replace(/^\|/, "").replace(/\|$/, "").split(/(?<!\\)\|/).map((c) => c.trim().replace(/\\\|/g, "|"));
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      if (!line.trim()) continue;
      if (line.startsWith("# ")) out.push(h("h2", { class: "report-title" }, line.slice(2)));
      else if (line.startsWith("## ")) out.push(h("h3", null, line.slice(3)));
      else if (line.startsWith("> ")) out.push(h("blockquote", null, line.slice(2)));
      else if (line.startsWith("|")) {
        const rows = [];
        while (i < lines.length && lines[i].startsWith("|")) rows.push(lines[i++]);
        i--;
        const [head, , ...body] = rows;
        out.push(h("table", { class: "data-table report-table" },
          h("thead", null, h("tr", null, cells(head).map((c) => h("th", null, c)))),
          h("tbody", null, body.map((r) => h("tr", null, cells(r).map((c) => h("td", null, c)))))));
      } else out.push(h("p", null, line));
    }
    return out;
  }

  function viewDownloads(root) {
    const DOCX = `${API}/summaries/common-issues?format=docx`;
    const XLSX = `${API}/exports/findings.xlsx`;
    const dl = (id, href, filename, title, desc) =>
      h("div", { class: "download-item" },
        h("a", { id, class: "button primary", href, download: filename, onclick: (ev) => downloadFile(ev, href, filename) }, title),
        h("p", { class: "muted small" }, desc));
    const preview = h("div", { id: "summary-preview", class: "markdown-preview report-preview", hidden: true });
    const previewBtn = h("button", { id: "preview-markdown", type: "button" }, "预览共性问题分析报告");
    previewBtn.addEventListener("click", async () => {
      previewBtn.disabled = true;
      preview.hidden = false;
      preview.textContent = "生成中…";
      try {
        const resp = await api("GET", "/summaries/common-issues", { query: { format: "markdown" }, raw: true });
        const type = resp.headers.get("content-type") || "";
        let body;
        if (type.includes("json")) {
          const data = await resp.json();
          body = typeof data === "string" ? data : data.markdown || data.text || JSON.stringify(data, null, 2);
        } else body = await resp.text();
        fill(preview, ...markdownBlocks(body));
      } catch (e) {
        preview.textContent = e.message;
        showError(e);
      } finally {
        previewBtn.disabled = false;
      }
    });
    add(root, 
      pageHeader("下载"),
      h("section", { class: "panel downloads" },
        dl("download-docx", DOCX, "共性问题分析报告.docx", "共性问题分析报告.docx",
          "按共性问题逐节列出涉及单位、轮次、趋势和代表性问题原文，每句注明来源问题编号。"),
        dl("download-xlsx", XLSX, "问题清单.xlsx", "问题清单.xlsx",
          "每条问题一行（单位、轮次、标签、依据），另附“整改台账”工作表。")),
      h("section", { class: "panel" }, h("h3", null, "报告预览"), previewBtn, preview)
    );
  }

  async function downloadFile(ev, href, filename) {
    ev.preventDefault();
    const link = ev.currentTarget;
    link.classList.add("busy");
    try {
      const resp = await fetch(href, { credentials: "same-origin" });
      if (resp.status === 401) {
        handleUnauthorized();
        return;
      }
      if (!resp.ok) throw errorFrom(resp.status, await parseBody(resp));
      const blob = await resp.blob();
      const url = URL.createObjectURL(blob);
      const a = h("a", { href: url, download: filename, hidden: true });
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (e) {
      showError(e.status !== undefined ? e : new ApiError(0, "network", "下载失败，请确认服务正在运行"));
    } finally {
      link.classList.remove("busy");
    }
  }

  // ---------------------------------------------------------------------------------------------
  // 审计

  // An audit entry's details as 键：值 lines an office can read (the API keeps them as JSON for scripts).
  const DETAIL_NAMES = {
    q: "检索词", query: "检索词", like: "相似于问题", limit: "条数", offset: "起始", page: "页",
    round: "轮次", rounds: "轮次", unit: "单位", units: "单位", label: "标签", kind: "类型", date: "日期",
    date_from: "日期从", date_to: "日期到", sort: "排序", order: "顺序", results: "结果数", findings: "问题数",
    job_id: "任务", files: "文件数", rejected: "被拒绝", import: "导入清单", rows: "行数", skipped: "跳过",
    cancelled: "已取消", retry: "重试", bytes: "字节数", format: "格式", top: "共性问题数", before: "修改前",
    after: "修改后", changed: "修改", tags: "标签", scheme: "标签方案", refused: "拒绝原因", message: "说明",
    reason: "原因", code: "代码", role: "角色", name: "名称", user: "用户", active: "启用", days: "有效天数",
    temporary: "临时密码", was_temporary: "原为临时密码", must_change_password: "须修改密码",
    token_days: "令牌有效天数", throttled: "已限流",
    min_units: "至少涉及单位数", include_singletons: "含个别问题", cluster_id: "共性问题", members: "每类问题数",
    document: "文档", documents: "文档数", clusters: "共性问题数", filters: "筛选条件", count_only: "只计数", title: "标题", source: "来源", status: "状态", count: "数量",
  };

  function detailValue(v) {
    if (v === null || v === undefined || v === "") return "（空）";
    if (typeof v === "boolean") return v ? "是" : "否";
    if (Array.isArray(v)) return v.length ? v.map(detailValue).join("、") : "（无）";
    if (typeof v === "object") {
      return Object.entries(v).map(([k, x]) => `${DETAIL_NAMES[k] || k}：${detailValue(x)}`).join("；");
    }
    return String(v);
  }

  function auditDetail(d) {
    if (d === null || d === undefined) return "";
    if (typeof d !== "object" || Array.isArray(d)) return detailValue(d);
    const entries = Object.entries(d).filter(([, v]) => v !== null && v !== undefined && !(Array.isArray(v) && !v.length));
    return entries.map(([k, v]) =>
      h("div", { class: "detail-line" }, h("span", { class: "detail-key" }, `${DETAIL_NAMES[k] || k}：`), detailValue(v)));
  }

  async function viewAudit(root, params) {
    add(root, pageHeader("审计日志与用户"));
    if (!can("admin")) {
      add(root, h("p", { class: "error-box" }, "只有管理员可以查看审计日志。"));
      return;
    }
    const userFilter = params.get("user") || "";
    const actionFilter = params.get("action") || "";
    const usersPanel = h("section", { class: "panel", id: "users-panel" });
    const auditPanel = h("section", { class: "panel" }, loading());
    add(root, auditPanel, usersPanel);
    renderUsers(usersPanel);

    const data = await api("GET", "/audit", { query: { limit: 500, user: userFilter, action: actionFilter } });
    const actions = data.actions || {};
    const detail = (d) => auditDetail(d);
    const actionSelect = h("select", { id: "audit-action", name: "action" }, h("option", { value: "" }, "全部操作"),
      Object.entries(actions).map(([k, v]) => h("option", { value: k, selected: k === actionFilter }, v)));
    const filter = h("form", { class: "field-row audit-filter", id: "audit-filter" },
      h("div", { class: "field" }, h("label", { for: "audit-user" }, "用户"), h("input", { id: "audit-user", name: "user", value: userFilter, placeholder: "全部用户" })),
      h("div", { class: "field" }, h("label", { for: "audit-action" }, "操作"), actionSelect),
      h("div", { class: "field narrow" }, h("button", { type: "submit" }, "筛选")));
    filter.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const qs = new URLSearchParams();
      if (filter.elements.user.value.trim()) qs.set("user", filter.elements.user.value.trim());
      if (actionSelect.value) qs.set("action", actionSelect.value);
      location.hash = `#/audit${qs.toString() ? `?${qs}` : ""}`;
    });
    fill(auditPanel,
      h("h3", null, "审计日志（最新在前，最多 500 条）"),
      filter,
      table("audit-table", ["时间", "用户", "操作", "对象", "详情", "结果"],
        (data.items || []).map((a) =>
          h("tr", { class: a.ok === false ? "failed" : "", "data-action": a.action },
            h("td", { class: "nowrap" }, fmtDateTime(a.at, true)),
            h("td", null, a.user || "—"),
            h("td", null, a.action_name || actions[a.action] || a.action || ""),
            h("td", null, a.target === null || a.target === undefined ? "" : String(a.target)),
            h("td", { class: "detail" }, detail(a.detail)),
            h("td", null, a.ok === false ? "失败" : "成功"))),
        { empty: "暂无审计记录" })
    );
  }

  async function renderUsers(panel) {
    fill(panel, h("h3", null, "用户"), loading());
    let users;
    try {
      users = (await api("GET", "/users")).items || [];
    } catch (e) {
      fill(panel, h("h3", null, "用户"), h("p", { class: "form-error" }, e.message));
      return;
    }
    const result = h("div", { id: "user-create-result", role: "status" });
    const form = h("form", { id: "user-create-form", class: "field-row", autocomplete: "off" },
      h("div", { class: "field" }, h("label", { for: "new-user-name" }, "用户名"), h("input", { id: "new-user-name", name: "name", required: true })),
      h("div", { class: "field" }, h("label", { for: "new-user-password" }, "初始密码"),
        h("input", { id: "new-user-password", name: "password", type: "password", autocomplete: "new-password", required: true })),
      h("div", { class: "field narrow" }, h("label", { for: "new-user-role" }, "角色"),
        h("select", { id: "new-user-role", name: "role" }, Object.entries(ROLE_NAMES).map(([k, v]) => h("option", { value: k }, v)))),
      h("div", { class: "field narrow check-field" }, h("label", { class: "check" },
        h("input", { id: "new-user-temporary", name: "temporary", type: "checkbox" }), "临时密码（首次登录须修改）")),
      h("div", { class: "field narrow" }, h("button", { type: "submit", class: "primary" }, "创建用户")));
    const rule = h("p", { id: "new-user-rule", class: "muted small" }, PASSWORD_RULE_LINE);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      fill(result);
      try {
        const created = await api("POST", "/users", {
          body: {
            name: form.elements.name.value.trim(), password: form.elements.password.value, role: form.elements.role.value,
            temporary: form.elements.temporary.checked,
          },
        });
        await renderUsers(panel);
        const first = created.must_change_password ? "该用户首次登录须修改密码。" : "";
        add($("#user-create-result", panel) || panel,
          h("p", { class: "info-box" }, `已创建用户 ${created.name}（${ROLE_NAMES[created.role] || created.role}）。${first}API 令牌只显示这一次：`,
            h("code", { class: "token" }, created.token || "")));
      } catch (e) {
        fill(result, h("p", { class: "form-error" }, e.message));
      }
    });
    fill(panel,
      h("h3", null, "用户"),
      table("users-table", ["用户名", "角色", "状态", "创建时间"],
        users.map((u) => h("tr", null, h("td", null, u.name), h("td", null, ROLE_NAMES[u.role] || u.role),
          h("td", null, u.active === false ? "已停用" : u.must_change_password ? "正常（须修改密码）" : "正常"),
          h("td", { class: "nowrap" }, fmtDateTime(u.created_at))))),
      h("h4", { class: "subhead" }, "新建用户"),
      form,
      rule,
      result);
  }

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
})();
