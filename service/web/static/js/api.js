// The API client: fetch wrapper with the CSRF header, error objects, the taxonomy.

import { API, state } from "./state.js";
import { handleUnauthorized, requirePasswordChange } from "./auth.js";

// ---------------------------------------------------------------------------------------------
// API

export class ApiError extends Error {
  constructor(status, code, message, body) {
    super(message);
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

export function errorFrom(status, data) {
  const err = data && data.error;
  if (err && typeof err === "object") {
    return new ApiError(status, err.code || "error", err.message || `请求失败（HTTP ${status}）`, data);
  }
  if (data && typeof data.detail === "string") return new ApiError(status, "error", data.detail, data);
  if (status === 403) return new ApiError(status, "forbidden", "没有权限执行此操作", data);
  if (status === 404) return new ApiError(status, "not_found", "请求的内容不存在", data);
  if (status === 413) return new ApiError(status, "too_large", "文件太大", data);
  return new ApiError(status, "error", `请求失败（HTTP ${status}）`, data);
}

function query(params) {
  if (!params) return "";
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === null || v === undefined || v === "") continue;
    qs.set(k, String(v));
  }
  const s = qs.toString();
  return s ? `?${s}` : "";
}

export async function parseBody(resp) {
  const type = resp.headers.get("content-type") || "";
  if (type.includes("json")) {
    try {
      return await resp.json();
    } catch (_) {
      return null;
    }
  }
  const body = await resp.text();
  return body ? { text: body } : null;
}

export async function api(method, path, options = {}) {
  const headers = { Accept: "application/json" };
  if (method !== "GET" && method !== "HEAD") headers["X-Requested-With"] = "xuncha";
  let body;
  if (options.body instanceof FormData) body = options.body;
  else if (options.body !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(options.body);
  }
  let resp;
  try {
    resp = await fetch(API + path + query(options.query), {
      method,
      headers,
      body,
      credentials: "same-origin",
    });
  } catch (_) {
    throw new ApiError(0, "network", "无法连接服务，请确认 xuncha 服务正在运行");
  }
  if (resp.status === 401 && !options.noAuthRedirect) {
    handleUnauthorized();
    throw new ApiError(401, "unauthorized", "登录已失效，请重新登录");
  }
  if (resp.status === 204) return null;
  if (options.raw) {
    if (!resp.ok) throw refused(errorFrom(resp.status, await parseBody(resp)));
    return resp;
  }
  const data = await parseBody(resp);
  if (!resp.ok) throw refused(errorFrom(resp.status, data));
  return data;
}

/** A refusal on its way to the caller. A temporary password (set for a new user or by an admin's
 * reset, possibly while this page is open) makes every route but the password change answer 403
 * password_change_required: the page then shows only the password form instead of an error. */
function refused(err) {
  if (err.code === "password_change_required") requirePasswordChange();
  return err;
}

export async function loadTaxonomy() {
  if (state.taxonomy) return state.taxonomy;
  try {
    state.taxonomy = await api("GET", "/taxonomy");
  } catch (e) {
    if (e.status === 401) throw e;
    state.taxonomy = { schemes: {} };
  }
  return state.taxonomy;
}
