// 文档: the filtered, sorted list and one document's page (text with findings highlighted, statistics).

import { can, state } from "./state.js";
import { $, add, fill, fmtDateTime, fmtNumber, fmtSize, h, text } from "./dom.js";
import { api, loadTaxonomy } from "./api.js";
import { documentLink, loading, pageHeader, pager, showError, showMessage, table } from "./ui.js";
import { route } from "./router.js";
import { toggleDocumentEditor } from "./doc-editor.js";
import { findingCard, focusFinding } from "./finding-cards.js";

// ---------------------------------------------------------------------------------------------
// 文档列表

export const UNASSIGNED_ROUND = "未标明轮次"; // the API's round filter value for documents without a round
const DOC_FILTERS = ["round", "unit", "kind", "date_from", "date_to"];
const DOC_SORTS = [ // [API sort key, column header]; the header of the sorted column shows ▲ / ▼
  ["title", "标题"], ["kind", "类型"], ["round", "轮次"], ["unit", "被巡察单位"], ["date", "日期"], ["findings", "问题数"], ["created", "入库时间"],
];

/** A link to the documents list with these filters (a round on the statistics page, …). */
export function documentsLink(filters, label) {
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

export async function viewDocuments(root, params) {
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

export async function viewDocument(root, id, params) {
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
  // items one sentence listed under one focus form one problem statement (findings.statement)
  const statementSizes = {};
  for (const f of findings) if (f.statement) statementSizes[f.statement] = (statementSizes[f.statement] || 0) + 1;
  for (const f of findings) list.appendChild(findingCard(f, statementSizes[f.statement] || 1));
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

export const metricName = (s) => (s.metric === "other" && (!s.name || s.name === "other") ? "其他数字" : s.name || s.metric);

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
