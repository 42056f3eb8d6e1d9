// ECharts (the vendored classic script sets window.echarts): chart lifetime and the two dashboard charts.

import { state } from "./state.js";
import { fill, h, sortRounds } from "./dom.js";

export function disposeCharts() {
  for (const c of state.charts) {
    try {
      c.dispose();
    } catch (_) {
      // already gone
    }
  }
  state.charts = [];
}

/** Drop the chart drawn in ``el`` (before it is drawn again with other data). */
export function disposeChart(el) {
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

export function renderCategoryChart(el, stats, scheme, allRounds, filtered) {
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

export function renderTrendChart(el, clusters, allRounds = [], count = 5) {
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
