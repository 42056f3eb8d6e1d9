// 用户: the admin's user list and new-user form (on the 审计 page).

import { PASSWORD_RULE_LINE, ROLE_NAMES } from "./state.js";
import { $, add, fill, fmtDateTime, h } from "./dom.js";
import { api } from "./api.js";
import { loading, table } from "./ui.js";

export async function renderUsers(panel) {
  fill(panel, h("h3", null, "用户"), loading());
  let users;
  try {
    users = (await api("GET", "/users")).items || [];
  } catch (e) {
    fill(panel, h("h3", null, "用户"), h("p", { class: "form-error" }, e.message));
    return;
  }
  const result = h("div", { id: "user-create-result", role: "status" });
  const form = h("form", { id: "user-create-form", class: "field-row", autocomplete: "off" },
    h("div", { class: "field" }, h("label", { for: "new-user-name" }, "用户名"), h("input", { id: "new-user-name", name: "name", required: true })),
    h("div", { class: "field" }, h("label", { for: "new-user-password" }, "初始密码"),
      h("input", { id: "new-user-password", name: "password", type: "password", autocomplete: "new-password", required: true })),
    h("div", { class: "field narrow" }, h("label", { for: "new-user-role" }, "角色"),
      h("select", { id: "new-user-role", name: "role" }, Object.entries(ROLE_NAMES).map(([k, v]) => h("option", { value: k }, v)))),
    h("div", { class: "field narrow check-field" }, h("label", { class: "check" },
      h("input", { id: "new-user-temporary", name: "temporary", type: "checkbox" }), "临时密码（首次登录须修改）")),
    h("div", { class: "field narrow" }, h("button", { type: "submit", class: "primary" }, "创建用户")));
  const rule = h("p", { id: "new-user-rule", class: "muted small" }, PASSWORD_RULE_LINE);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    fill(result);
    try {
      const created = await api("POST", "/users", {
        body: {
          name: form.elements.name.value.trim(), password: form.elements.password.value, role: form.elements.role.value,
          temporary: form.elements.temporary.checked,
        },
      });
      await renderUsers(panel);
      const first = created.must_change_password ? "该用户首次登录须修改密码。" : "";
      add($("#user-create-result", panel) || panel,
        h("p", { class: "info-box" }, `已创建用户 ${created.name}（${ROLE_NAMES[created.role] || created.role}）。${first}API 令牌只显示这一次：`,
          h("code", { class: "token" }, created.token || "")));
    } catch (e) {
      fill(result, h("p", { class: "form-error" }, e.message));
    }
  });
  fill(panel,
    h("h3", null, "用户"),
    table("users-table", ["用户名", "角色", "状态", "创建时间"],
      users.map((u) => h("tr", null, h("td", null, u.name), h("td", null, ROLE_NAMES[u.role] || u.role),
        h("td", null, u.active === false ? "已停用" : u.must_change_password ? "正常（须修改密码）" : "正常"),
        h("td", { class: "nowrap" }, fmtDateTime(u.created_at))))),
    h("h4", { class: "subhead" }, "新建用户"),
    form,
    rule,
    result);
}
