// Finding cards on a document's page: evidence, tags, the tag correction form, similar findings.

import { can, schemeIds, schemeName } from "./state.js";
import { $, $$, add, fill, fmtNumber, h, text } from "./dom.js";
import { api, loadTaxonomy } from "./api.js";
import { documentLink, loading, showError, showMessage } from "./ui.js";

export function focusFinding(id, { scrollText }) {
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

// statementSize: how many findings of its document share its problem statement (1: a statement of its own)
export function findingCard(f, statementSize = 1) {
  const card = h("article", { class: "finding", id: `finding-${f.id}`, "data-finding-id": f.id, "data-testid": "finding" });
  card.dataset.statementSize = String(statementSize);
  fillFindingCard(card, f);
  return card;
}

function fillFindingCard(card, f) {
  const statementSize = Number(card.dataset.statementSize || 1);
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
    f.statement && statementSize > 1
      ? h("span", { class: "finding-statement", "data-statement": f.statement,
                    title: "原文同一句中同一聚焦的几项具体表现合为一条问题表述（xuncha analyze 按表述列出）" },
          `表述 ${f.statement} · 共 ${statementSize} 项`)
      : null,
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

export function resultSummary(r) {
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
