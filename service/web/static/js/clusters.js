// 共性问题: the clusters form, list, charts and recurrences.

import { schemeIds, schemeName } from "./state.js";
import { $, $$, add, fill, fmtNumber, h, sortRounds } from "./dom.js";
import { api, loadTaxonomy } from "./api.js";
import { pageHeader, showError, table } from "./ui.js";
import { route } from "./router.js";
import { disposeChart, renderCategoryChart, renderTrendChart } from "./charts.js";

// ---------------------------------------------------------------------------------------------
// 共性问题

export async function viewClusters(root, params) {
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
