// Shared page pieces: the message bar, page header, tables, pager, tag chips, document links.

import { schemeIds, schemeName } from "./state.js";
import { $, h, text } from "./dom.js";

// ---------------------------------------------------------------------------------------------
// Messages

let messageTimer = null;
export function showMessage(message, kind = "error") {
  const bar = $("#message-bar");
  $("#message-text").textContent = message;
  bar.className = `message-bar ${kind}`;
  bar.hidden = false;
  clearTimeout(messageTimer);
  if (kind !== "error") messageTimer = setTimeout(() => { bar.hidden = true; }, 5000);
}
export function hideMessage() {
  $("#message-bar").hidden = true;
}
export function showError(e) {
  if (e && e.status === 401) return; // the login view is shown instead
  if (e && e.code === "password_change_required") return; // the password form is shown instead
  showMessage((e && e.message) || "操作失败", "error");
}

// ---------------------------------------------------------------------------------------------
// Shared pieces

export function pageHeader(title, ...extra) {
  return h("div", { class: "page-header" }, h("h2", null, title), h("div", { class: "page-actions" }, extra));
}

export function table(id, headers, rows, opts = {}) {
  const thead = h("thead", null, h("tr", null, headers.map((x) => h("th", null, x))));
  const tbody = h("tbody", null, rows);
  if (!rows.length) {
    tbody.appendChild(h("tr", null, h("td", { colspan: headers.length, class: "empty" }, opts.empty || "暂无数据")));
  }
  return h("table", { id, class: `data-table ${opts.class || ""}` }, thead, tbody);
}

export function loading(msg = "加载中…") {
  return h("p", { class: "loading muted" }, msg);
}

/** Tag chips from the simple {scheme: [label, …]} shape used by search and the findings list. */
export function simpleTags(tags) {
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

export function documentLink(docId, label, findingId) {
  if (docId === null || docId === undefined) return text(label || "");
  const href = `#/documents/${encodeURIComponent(docId)}${findingId ? `?f=${encodeURIComponent(findingId)}` : ""}`;
  return h("a", { href }, label || `文档 ${docId}`);
}

export function pager(page, pageSize, total, hrefFor) {
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
