// Login, logout and 修改密码 (forced for a temporary password, voluntary at #/password).

import { can, PASSWORD_RULES, ROLE_NAMES, state } from "./state.js";
import { $, $$, add, fill, h } from "./dom.js";
import { api } from "./api.js";
import { hideMessage, pageHeader } from "./ui.js";
import { route } from "./router.js";
import { disposeCharts } from "./charts.js";
import { stopJobPolling } from "./upload.js";

// ---------------------------------------------------------------------------------------------
// Login / logout

export function showLogin() {
  disposeCharts();
  $("#app-view").hidden = true;
  $("#password-view").hidden = true;
  fill($("#password-card"));
  $("#login-view").hidden = false;
  $("#login-error").hidden = true;
  $("#login-password").value = "";
  $("#login-username").focus();
}

export function showApp() {
  $("#login-view").hidden = true;
  $("#app-view").hidden = false;
  $("#current-user").textContent = state.user.name;
  $("#current-role").textContent = ROLE_NAMES[state.user.role] || state.user.role;
  for (const a of $$("#main-nav a")) {
    const min = a.getAttribute("data-min-role");
    a.hidden = !!min && !can(min);
  }
}

export function handleUnauthorized() {
  if (state.user) state.afterLogin = location.hash;
  state.user = null;
  stopJobPolling();
  showLogin();
}

export const userFrom = (data) => (data && data.user ? data.user : data);

export async function onLoginSubmit(ev) {
  ev.preventDefault();
  const errEl = $("#login-error");
  errEl.hidden = true;
  const username = $("#login-username").value.trim();
  const password = $("#login-password").value;
  if (!username || !password) {
    errEl.textContent = "请输入用户名和密码";
    errEl.hidden = false;
    return;
  }
  const button = $("#login-submit");
  button.disabled = true;
  try {
    const data = await api("POST", "/auth/login", { body: { username, password }, noAuthRedirect: true });
    state.user = (data && data.user) || userFrom(await api("GET", "/auth/me"));
    state.taxonomy = null;
    hideMessage();
    const target = landing(state.afterLogin);
    state.afterLogin = null;
    if (state.user.must_change_password) {
      state.afterLogin = target; // reached once the password is changed
      showPasswordChange();
      return;
    }
    showApp();
    if (location.hash === target) route();
    else location.hash = target;
  } catch (e) {
    errEl.textContent = e.status === 401 || e.status === 400 ? e.message || "用户名或密码错误" : e.message;
    errEl.hidden = false;
  } finally {
    button.disabled = false;
  }
}

/** Where to go after logging in (or after the forced password change): the page asked for, else 文档. */
function landing(wanted) {
  return wanted && wanted !== "#/login" && wanted !== "#/password" ? wanted : "#/documents";
}

// ---------------------------------------------------------------------------------------------
// 修改密码: forced (temporary password: nothing else is shown) and voluntary (#/password)

/** The change form: current, new and repeated password, the rule written out, the server's Chinese
 * refusal (wrong current password, the failed rule, too many attempts) shown under it. */
function passwordForm(onDone) {
  const error = h("p", { id: "password-error", class: "form-error", role: "alert", hidden: true });
  const field = (id, label, autocomplete) => [
    h("label", { for: id }, label),
    h("input", { id, name: id, type: "password", autocomplete, required: true, maxlength: 1000 }),
  ];
  const submit = h("button", { id: "password-submit", type: "submit", class: "primary" }, "修改密码");
  const form = h("form", { id: "password-form", class: "password-form", novalidate: true },
    field("password-current", "当前密码", "current-password"),
    field("password-new", "新密码", "new-password"),
    field("password-repeat", "再次输入新密码", "new-password"),
    h("div", { id: "password-rule", class: "password-rule" }, h("p", null, "新密码须满足："),
      h("ul", null, PASSWORD_RULES.map((r) => h("li", null, r)), h("li", null, "不能与当前密码相同"))),
    error,
    submit);
  const say = (message) => {
    error.textContent = message;
    error.hidden = false;
  };
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    error.hidden = true;
    const current = form.elements["password-current"].value;
    const next = form.elements["password-new"].value;
    if (!current || !next) return say("请输入当前密码和新密码");
    if (next !== form.elements["password-repeat"].value) return say("两次输入的新密码不一致");
    submit.disabled = true;
    try {
      await api("POST", "/auth/password", { body: { current_password: current, new_password: next } });
      form.reset();
      await onDone();
    } catch (e) {
      if (e.status !== 401) say(e.message || "修改密码失败"); // 401: the login view is shown instead
    } finally {
      submit.disabled = false;
    }
    return undefined;
  });
  return form;
}

/** Only the password form, for a user holding a temporary password: the server refuses everything
 * else (403 password_change_required) until it is changed, so the normal page would only show errors. */
export function showPasswordChange() {
  disposeCharts();
  stopJobPolling();
  $("#login-view").hidden = true;
  $("#app-view").hidden = true;
  fill($("#view"));
  const view = $("#password-view");
  if (!view.hidden) return; // already shown: keep what has been typed
  const card = $("#password-card");
  fill(card,
    h("h1", null, "修改密码"),
    h("p", { id: "password-reason", class: "muted" },
      `${state.user.name}，您正在使用临时密码（新建账户首次登录，或密码已被管理员重置）。请先设置新密码，之后才能使用系统。`),
    passwordForm(async () => {
      state.user = userFrom(await api("GET", "/auth/me"));
      view.hidden = true;
      fill(card);
      showApp();
      state.flash = "密码已修改";
      const target = landing(state.afterLogin);
      state.afterLogin = null;
      if (location.hash === target) route();
      else location.hash = target;
    }),
    h("button", { id: "password-logout", type: "button", class: "link-button", onclick: logout }, "退出登录"));
  view.hidden = false;
  $("#password-current", card).focus();
}

/** The server says this user must change the password first (a reset while the page was open). */
export function requirePasswordChange() {
  if (!state.user) return;
  if (!state.user.must_change_password) state.afterLogin = location.hash;
  state.user = { ...state.user, must_change_password: true };
  showPasswordChange();
}

export async function viewPassword(root) {
  add(root, pageHeader("修改密码"),
    h("section", { class: "panel" },
      h("p", { class: "muted" }, "修改后，您在其他浏览器或设备上的登录会退出；当前登录和 API 令牌保持有效。"),
      passwordForm(async () => {
        state.flash = "密码已修改";
        location.hash = "#/documents";
      })));
}

export async function logout() {
  try {
    await api("POST", "/auth/logout", { noAuthRedirect: true });
  } catch (_) {
    // the session is dropped locally either way
  }
  state.user = null;
  state.afterLogin = null;
  stopJobPolling();
  state.job = null;
  fill($("#view"));
  showLogin();
}
