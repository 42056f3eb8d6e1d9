// 统计: counts by round, unit, label, and the reports' own figures.

import { schemeIds, schemeName } from "./state.js";
import { add, fmtNumber, h } from "./dom.js";
import { api, loadTaxonomy } from "./api.js";
import { loading, pageHeader, table } from "./ui.js";
import { documentsLink, metricName, UNASSIGNED_ROUND } from "./documents.js";

// ---------------------------------------------------------------------------------------------
// 统计

export async function viewStatistics(root) {
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
