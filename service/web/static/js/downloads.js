// 下载: DOCX summary and XLSX export, and the summary preview.

import { API } from "./state.js";
import { add, fill, h } from "./dom.js";
import { api, ApiError, errorFrom, parseBody } from "./api.js";
import { pageHeader, showError } from "./ui.js";
import { handleUnauthorized } from "./auth.js";

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

export function viewDownloads(root) {
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
