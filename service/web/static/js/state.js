// Constants shared by every page, the page's state, and role / tag-scheme lookups.

export const API = "/api/v1";
const ROLE_RANK = { viewer: 1, analyst: 2, admin: 3 };
export const ROLE_NAMES = { viewer: "查看", analyst: "分析员", admin: "管理员" };
// The server's password rule (service/accounts.py, password_problem), written out wherever a password
// is chosen so nobody has to guess it from a refusal; the server still decides and names the failed rule.
export const PASSWORD_RULES = [
  "至少 10 个字符",
  "包含大写字母、小写字母、数字、符号四类中的至少三类",
  "不能包含用户名（不区分大小写）",
  "不能是常见密码，也不能只是在常见密码前后加数字或符号",
];
export const PASSWORD_RULE_LINE = `密码规则：${PASSWORD_RULES.join("；")}。`;
const SCHEME_ORDER = ["focus", "four_implementations", "livelihood", "problem_type"];
const SCHEME_NAMES = {
  focus: "三个聚焦",
  four_implementations: "四个落实",
  livelihood: "民生领域",
  problem_type: "问题类型",
};
export const JOB_STATUS = {
  queued: "排队中",
  running: "处理中",
  stored: "已入库",
  duplicate: "重复（已入库）",
  error: "失败",
  done: "已完成",
  failed: "失败",
};
export const POLL_MS = 700;

export const state = {
  user: null,
  taxonomy: null, // {schemes: {id: {name, labels}}}
  afterLogin: null,
  job: null, // last upload job (kept across views so polling survives navigation)
  jobTimer: null,
  charts: [],
  routeSeq: 0,
  flash: null, // an info message to show after the next view has rendered
};

export const can = (role) => !!state.user && (ROLE_RANK[state.user.role] || 0) >= ROLE_RANK[role];

export function schemeName(id) {
  const s = state.taxonomy && state.taxonomy.schemes && state.taxonomy.schemes[id];
  return (s && s.name) || SCHEME_NAMES[id] || id;
}

export function schemeIds(extra) {
  const ids = [...SCHEME_ORDER];
  const more = [
    ...Object.keys((state.taxonomy && state.taxonomy.schemes) || {}),
    ...(extra || []),
  ];
  for (const id of more) if (!ids.includes(id)) ids.push(id);
  return ids;
}
