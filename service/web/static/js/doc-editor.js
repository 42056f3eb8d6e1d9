// The 编辑 form of a document's 轮次 / 单位 / 类型 / 日期 (document page and upload prompts).

import { state } from "./state.js";
import { fill, h, sortRounds } from "./dom.js";
import { api } from "./api.js";
import { showError } from "./ui.js";
import { route } from "./router.js";

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
export async function toggleDocumentEditor(slot, doc, onSaved) {
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
