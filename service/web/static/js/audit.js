// 审计: the audit log for admins (details as 键：值 lines).

import { can } from "./state.js";
import { add, fill, fmtDateTime, h } from "./dom.js";
import { api } from "./api.js";
import { loading, pageHeader, table } from "./ui.js";
import { renderUsers } from "./users.js";

// ---------------------------------------------------------------------------------------------
// 审计

// An audit entry's details as 键：值 lines an office can read (the API keeps them as JSON for scripts).
const DETAIL_NAMES = {
  q: "检索词", query: "检索词", like: "相似于问题", limit: "条数", offset: "起始", page: "页",
  round: "轮次", rounds: "轮次", unit: "单位", units: "单位", label: "标签", kind: "类型", date: "日期",
  date_from: "日期从", date_to: "日期到", sort: "排序", order: "顺序", results: "结果数", findings: "问题数",
  job_id: "任务", files: "文件数", rejected: "被拒绝", import: "导入清单", rows: "行数", skipped: "跳过",
  cancelled: "已取消", stopping: "正在停止", retry: "重试", bytes: "字节数", format: "格式", top: "共性问题数", before: "修改前",
  after: "修改后", changed: "修改", tags: "标签", scheme: "标签方案", refused: "拒绝原因", message: "说明",
  reason: "原因", code: "代码", role: "角色", name: "名称", user: "用户", active: "启用", days: "有效天数",
  temporary: "临时密码", was_temporary: "原为临时密码", must_change_password: "须修改密码",
  token_days: "令牌有效天数", throttled: "已限流",
  min_units: "至少涉及单位数", include_singletons: "含个别问题", cluster_id: "共性问题", members: "每类问题数",
  document: "文档", documents: "文档数", clusters: "共性问题数", filters: "筛选条件", count_only: "只计数", title: "标题", source: "来源", status: "状态", count: "数量",
};

function detailValue(v) {
  if (v === null || v === undefined || v === "") return "（空）";
  if (typeof v === "boolean") return v ? "是" : "否";
  if (Array.isArray(v)) return v.length ? v.map(detailValue).join("、") : "（无）";
  if (typeof v === "object") {
    return Object.entries(v).map(([k, x]) => `${DETAIL_NAMES[k] || k}：${detailValue(x)}`).join("；");
  }
  return String(v);
}

function auditDetail(d) {
  if (d === null || d === undefined) return "";
  if (typeof d !== "object" || Array.isArray(d)) return detailValue(d);
  const entries = Object.entries(d).filter(([, v]) => v !== null && v !== undefined && !(Array.isArray(v) && !v.length));
  return entries.map(([k, v]) =>
    h("div", { class: "detail-line" }, h("span", { class: "detail-key" }, `${DETAIL_NAMES[k] || k}：`), detailValue(v)));
}

export async function viewAudit(root, params) {
  add(root, pageHeader("审计日志与用户"));
  if (!can("admin")) {
    add(root, h("p", { class: "error-box" }, "只有管理员可以查看审计日志。"));
    return;
  }
  const userFilter = params.get("user") || "";
  const actionFilter = params.get("action") || "";
  const usersPanel = h("section", { class: "panel", id: "users-panel" });
  const auditPanel = h("section", { class: "panel" }, loading());
  add(root, auditPanel, usersPanel);
  renderUsers(usersPanel);

  const data = await api("GET", "/audit", { query: { limit: 500, user: userFilter, action: actionFilter } });
  const actions = data.actions || {};
  const detail = (d) => auditDetail(d);
  const actionSelect = h("select", { id: "audit-action", name: "action" }, h("option", { value: "" }, "全部操作"),
    Object.entries(actions).map(([k, v]) => h("option", { value: k, selected: k === actionFilter }, v)));
  const filter = h("form", { class: "field-row audit-filter", id: "audit-filter" },
    h("div", { class: "field" }, h("label", { for: "audit-user" }, "用户"), h("input", { id: "audit-user", name: "user", value: userFilter, placeholder: "全部用户" })),
    h("div", { class: "field" }, h("label", { for: "audit-action" }, "操作"), actionSelect),
    h("div", { class: "field narrow" }, h("button", { type: "submit" }, "筛选")));
  filter.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const qs = new URLSearchParams();
    if (filter.elements.user.value.trim()) qs.set("user", filter.elements.user.value.trim());
    if (actionSelect.value) qs.set("action", actionSelect.value);
    location.hash = `#/audit${qs.toString() ? `?${qs}` : ""}`;
  });
  fill(auditPanel,
    h("h3", null, "审计日志（最新在前，最多 500 条）"),
    filter,
    table("audit-table", ["时间", "用户", "操作", "对象", "详情", "结果"],
      (data.items || []).map((a) =>
        h("tr", { class: a.ok === false ? "failed" : "", "data-action": a.action },
          h("td", { class: "nowrap" }, fmtDateTime(a.at, true)),
          h("td", null, a.user || "—"),
          h("td", null, a.action_name || actions[a.action] || a.action || ""),
          h("td", null, a.target === null || a.target === undefined ? "" : String(a.target)),
          h("td", { class: "detail" }, detail(a.detail)),
          h("td", null, a.ok === false ? "失败" : "成功"))),
      { empty: "暂无审计记录" })
  );
}
