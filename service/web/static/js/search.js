// 检索 (search, browse, similar findings) and one finding's own page.

import { schemeIds, schemeName, state } from "./state.js";
import { $, add, fill, fmtNumber, h } from "./dom.js";
import { api, loadTaxonomy } from "./api.js";
import { documentLink, loading, pageHeader, pager, simpleTags } from "./ui.js";
import { route } from "./router.js";
import { resultSummary } from "./finding-cards.js";

// ---------------------------------------------------------------------------------------------
// 检索

export async function viewSearch(root, params) {
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

export async function viewFinding(root, id) {
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
