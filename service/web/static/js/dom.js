// DOM helpers (h() builds elements from text nodes only; innerHTML is never used), formatting, round sorting.

// ---------------------------------------------------------------------------------------------
// DOM helpers

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

/** Create an element. Children: strings/numbers become text nodes; null/false/undefined are skipped. */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [key, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (key.startsWith("on") && typeof value === "function") {
        el.addEventListener(key.slice(2).toLowerCase(), value);
      } else if (key === "class") {
        el.className = value;
      } else if (key === "text") {
        el.textContent = String(value);
      } else if (key === "value" || key === "checked" || key === "selected" || key === "disabled") {
        el[key] = value;
      } else if (value === true) {
        el.setAttribute(key, "");
      } else {
        el.setAttribute(key, String(value));
      }
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
  return el;
}

/** el.append / el.replaceChildren that skip null/undefined/false (the native ones print "null"). */
export const add = (el, ...children) => append(el, children);
export const fill = (el, ...children) => {
  el.replaceChildren();
  return append(el, children);
};

export const text = (s) => document.createTextNode(s === null || s === undefined ? "" : String(s));

export function fmtNumber(v) {
  if (v === null || v === undefined || v === "") return "";
  const n = Number(v);
  if (!Number.isFinite(n)) return String(v);
  return n.toLocaleString("zh-CN", { maximumFractionDigits: 4 });
}

export function fmtDateTime(iso, seconds = false) {
  if (!iso) return "";
  // The API stores UTC; a timestamp read back from SQLite has lost its offset, so one without
  // an offset is taken as UTC and shown in the browser's local time.
  const str = String(iso);
  const d = new Date(/T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(str) ? `${str}Z` : str);
  if (Number.isNaN(d.getTime())) return String(iso);
  const p = (n) => String(n).padStart(2, "0");
  const time = `${p(d.getHours())}:${p(d.getMinutes())}${seconds ? `:${p(d.getSeconds())}` : ""}`;
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${time}`;
}

export function fmtSize(bytes) {
  const n = Number(bytes);
  if (!Number.isFinite(n)) return "";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

// Round labels such as 十四届县委第六轮 sort by term number, then round number.
const CN_DIGITS = { 零: 0, 〇: 0, 一: 1, 二: 2, 两: 2, 三: 3, 四: 4, 五: 5, 六: 6, 七: 7, 八: 8, 九: 9 };
function cnNumber(s) {
  if (!s) return NaN;
  if (/^\d+$/.test(s)) return Number(s);
  let total = 0;
  let current = 0;
  for (const ch of s) {
    if (ch in CN_DIGITS) current = CN_DIGITS[ch];
    else if (ch === "十") { total += (current || 1) * 10; current = 0; }
    else if (ch === "百") { total += (current || 1) * 100; current = 0; }
    else return NaN;
  }
  return total + current;
}
function roundKey(label) {
  const s = String(label || "");
  const term = s.match(/([零〇一二两三四五六七八九十百\d]+)届/);
  const round = s.match(/第([零〇一二两三四五六七八九十百\d]+)轮/);
  return [term ? cnNumber(term[1]) || 0 : 0, round ? cnNumber(round[1]) || 0 : 0];
}
export function sortRounds(labels) {
  return [...labels].sort((a, b) => {
    const ka = roundKey(a);
    const kb = roundKey(b);
    return ka[0] - kb[0] || ka[1] - kb[1] || String(a).localeCompare(String(b), "zh-CN");
  });
}
