// Bytes stored vs bytes saved per file, as paired horizontal bars. Drawn by
// hand in SVG; colours come from CSS classes so light and dark mode both work.
import { formatBytes } from './view.js';

const NS = 'http://www.w3.org/2000/svg';
const WIDTH = 436;
const LABEL = 104; // left column: short hash and kind
const VALUE = 58; // right margin for the numbers
const ROW = 32;
const BAR = 10;
const LEGEND = 18;
export const MAX_ROWS = 8;

function svg(tag, attributes, text) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attributes)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Draws one row per entry (the first MAX_ROWS), scaled to the largest value shown. */
export function drawChart(root, entries) {
  const rows = entries.slice(0, MAX_ROWS);
  const height = LEGEND + rows.length * ROW;
  root.setAttribute('viewBox', `0 0 ${WIDTH} ${height}`);
  const scale = (WIDTH - LABEL - VALUE) / Math.max(1, ...rows.flatMap((e) => [e.size, e.savedBytes]));
  const parts = [
    svg('rect', { class: 'stored', x: LABEL, y: 3, width: 10, height: 10 }),
    svg('text', { x: LABEL + 14, y: 12 }, 'stored'),
    svg('rect', { class: 'saved', x: LABEL + 70, y: 3, width: 10, height: 10 }),
    svg('text', { x: LABEL + 84, y: 12 }, 'saved (not downloaded again)'),
  ];
  rows.forEach((e, i) => {
    const y = LEGEND + i * ROW;
    parts.push(svg('text', { class: 'label', x: 0, y: y + 12 }, e.hash.slice(0, 8)));
    parts.push(svg('text', { class: 'kind', x: 0, y: y + 24 }, e.kind));
    for (const [j, cls, bytes] of [[0, 'stored', e.size], [1, 'saved', e.savedBytes]]) {
      const top = y + 3 + j * (BAR + 3);
      const width = Math.max(bytes > 0 ? 1 : 0, bytes * scale);
      parts.push(svg('rect', { class: cls, x: LABEL, y: top, width, height: BAR, rx: 2 }));
      parts.push(svg('text', { class: 'value', x: LABEL + width + 4, y: top + BAR - 1 }, formatBytes(bytes)));
    }
  });
  root.replaceChildren(...parts);
}
