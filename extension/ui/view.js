// Small DOM and formatting helpers shared by the popup and the settings page.

/** `el('p', {class: 'x'}, 'text', child)`: attributes set as attributes, children appended. */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== undefined && value !== false) node.setAttribute(name, value === true ? '' : value);
  }
  node.append(...children.flat().filter((c) => c !== null && c !== undefined));
  return node;
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export function formatBytes(n) {
  let i = 0;
  while (n >= 1024 && i < UNITS.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 || n >= 100 ? Math.round(n) : n.toFixed(1)} ${UNITS[i]}`;
}

/** A byte count people can read, keeping the exact number machine-readable (`value`) and on hover. */
export function bytesEl(n) {
  return el('data', { value: n, title: `${n.toLocaleString('en')} bytes` }, formatBytes(n));
}

export function timeAgo(ms, now = Date.now()) {
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return 'just now';
  const [value, unit] = s < 3600 ? [s / 60, 'min'] : s < 86400 ? [s / 3600, 'h'] : [s / 86400, 'd'];
  return `${Math.floor(value)} ${unit} ago`;
}

/** Shows `message` in the page's alert line (or hides it when empty). */
export function showError(message) {
  const line = document.getElementById('error');
  line.textContent = message ?? '';
  line.hidden = !message;
}

/** `one` or `many` to go with the number `n`. */
export const noun = (n, one, many = `${one}s`) => (n === 1 ? one : many);
