// 上传: report upload with progress, 问题清单 import, and the job's per-file progress.

import { API, can, JOB_STATUS, POLL_MS, state } from "./state.js";
import { $, add, fill, fmtSize, h } from "./dom.js";
import { api, errorFrom } from "./api.js";
import { pageHeader, showError, showMessage } from "./ui.js";
import { handleUnauthorized } from "./auth.js";
import { toggleDocumentEditor } from "./doc-editor.js";

// ---------------------------------------------------------------------------------------------
// 上传

export function viewUpload(root) {
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

export function stopJobPolling() {
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
  const cancelled = items.filter(isCancelled).length;
  const c = { stored: n("stored"), duplicate: n("duplicate"), error: n("error") - cancelled, cancelled, total: items.length || job.total || 0 };
  c.processed = c.stored + c.duplicate + c.error + c.cancelled;
  c.waiting = c.total - c.processed;
  c.summary = [`新入库 ${c.stored} 份`, `重复 ${c.duplicate} 份`, `失败 ${c.error} 份`, c.cancelled ? `已取消 ${c.cancelled} 份` : null,
    c.waiting ? `待处理 ${c.waiting} 份` : null].filter(Boolean).join("，");
  return c;
}

/** A file the analyst cancelled: an error by status, but not a failure of the file. */
function isCancelled(item) {
  return item.status === "error" && item.error && item.error.code === "cancelled";
}

function itemStatusText(item) {
  if (item.cancelling) return "正在取消…";
  if (isCancelled(item)) return "已取消";
  return JOB_STATUS[item.status] || item.status;
}

/** Cancel the files of the job not yet done: queued ones at once, the one being analysed within a
 *  second (POST /jobs/{id}/cancel); one already being stored is finished whole. */
async function cancelJob(jobId, button) {
  button.disabled = true;
  try {
    const result = await api("POST", `/jobs/${encodeURIComponent(jobId)}/cancel`);
    const asked = (result.cancelled || 0) + (result.stopping || 0);
    showMessage(asked ? `已取消 ${result.cancelled || 0} 个排队的文件${result.stopping ? `，正在停止 ${result.stopping} 个处理中的文件` : ""}`
      : "没有可取消的文件（都已处理完）", "info");
  } catch (e) {
    button.disabled = false;
    showError(e);
  }
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
      h("span", { class: `status-pill ${isCancelled(it) ? "cancelled" : it.status}`, "data-cancelling": it.cancelling ? "true" : null },
        itemStatusText(it)),
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
      it.error && !isCancelled(it) ? h("span", { class: "form-error" }, it.error.message || it.error.code) : null,
      missingPrompt(it)
    )
  );
  fill(panel, 
    h("h3", null, "处理进度"),
    h("p", { id: "job-status", "data-status": job.status, class: finished ? "" : "working" },
      finished ? `任务 ${job.id} 已结束：` : `任务 ${job.id}：${JOB_STATUS[job.status] || job.status}（已处理 ${processed} / ${total}）`,
      finished ? h("span", { id: "job-counts" }, `共 ${total} 个文件，${counts.summary}`) : null),
    h("progress", { id: "job-progress", max: Math.max(1, total), value: finished ? Math.max(1, total) : processed }),
    !finished && can("analyst")
      ? h("button", { type: "button", id: "job-cancel", class: "small", onclick: (ev) => cancelJob(job.id, ev.currentTarget) },
        "取消未完成的文件")
      : null,
    h("ul", { id: "job-items", class: "job-items" }, items)
  );
}
