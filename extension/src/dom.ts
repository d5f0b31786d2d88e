// DOM helpers shared by the widgets: elements, buttons, tables, status badges and small formatters.
import { ApiError } from './api';

/** Bidi embedding, override and isolate controls shown as `⟨U+202E⟩`: one in a name reversed the rest of its line. */
export const visible = (text: string) =>
  text.replace(/[\u202a-\u202e\u2066-\u2069]/g, c => `⟨U+${c.charCodeAt(0).toString(16).toUpperCase()}⟩`);

/** Create an element with a class and text (data never goes through innerHTML). */
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls = '', text = ''): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text) e.textContent = visible(text);
  return e;
}

/** The text of an error for a status line: an ApiError's message and hint, else the error as a string. */
export const errorText = (e: unknown) => (e instanceof ApiError ? e.text : String(e));
/** An ISO time as 'YYYY-MM-DD HH:MM'. */
export const short = (t: unknown) =>
  String(t ?? '')
    .replace('T', ' ')
    .slice(0, 16);
/** A number to `digits` significant digits; anything else as text. */
export const num = (v: unknown, digits = 3) =>
  typeof v === 'number' ? String(+v.toPrecision(digits)) : String(v ?? '');

/** A row's `data-name`: its `name`, else its `run_name` (runs), else none. */
function rowName(r: object): string {
  const name = 'name' in r ? r.name : undefined;
  const runName = 'run_name' in r ? r.run_name : undefined;
  return String(name ?? runName ?? '');
}

/** The longest text a table cell shows whole; a longer one is cut with "…" and shown whole on hover. */
const CELL_CHARS = 60;

/** A table with a header row; `cells` gives the texts (or elements) of one row. */
export function table<T extends object>(
  kind: string,
  head: string[],
  rows: T[],
  cells: (r: T) => (string | HTMLElement)[]
): HTMLElement {
  const t = el('table', `jp-llmops-table jp-llmops-${kind}`);
  const hr = el('tr');
  head.forEach(h => hr.appendChild(el('th', '', h)));
  t.appendChild(hr);
  for (const r of rows) {
    const tr = el('tr', 'jp-llmops-row');
    tr.dataset.name = rowName(r);
    for (const c of cells(r)) {
      const td = el('td');
      if (typeof c !== 'string') td.appendChild(c);
      else if ([...c].length <= CELL_CHARS) td.textContent = visible(c);
      else {
        td.textContent = visible([...c].slice(0, CELL_CHARS - 1).join('') + '…'); // a 5,000-character run name is no 27,000 px list
        td.title = c;
      }
      tr.appendChild(td);
    }
    t.appendChild(tr);
  }
  return t;
}

/** A button with a tooltip; its click runs `onClick` and goes no further up the DOM. */
export function button(label: string, title: string, onClick: () => void, cls = ''): HTMLButtonElement {
  const b = el('button', `jp-llmops-btn ${cls}`, label);
  b.title = title;
  b.setAttribute('aria-label', title); // ▶ and ✕ say nothing to a screen reader
  b.onclick = ev => {
    ev.stopPropagation();
    onClick();
  };
  return b;
}

/** A coloured status label: `jp-llmops-status-<status>`. */
export function badge(status: string): HTMLElement {
  return el('span', `jp-llmops-badge jp-llmops-status-${status || 'none'}`, status || '—');
}
