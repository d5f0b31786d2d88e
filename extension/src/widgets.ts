// The sidebar (Runs, Prompts, Indexes, Jobs, Monitor), the schedule form and the prompt diff view.
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';
import { api, ApiError, IScheduleRequest, Row } from './api';

/** Create an element with a class and text (data never goes through innerHTML). */
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls = '', text = ''): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text) e.textContent = text;
  return e;
}

const errorText = (e: unknown) => (e instanceof ApiError ? e.text : String(e));
const short = (t: unknown) => String(t ?? '').replace('T', ' ').slice(0, 16);
const num = (v: unknown, digits = 3) => (typeof v === 'number' ? String(+v.toPrecision(digits)) : String(v ?? ''));

/** A table with a header row; `cells` gives the texts (or elements) of one row. */
function table(kind: string, head: string[], rows: Row[], cells: (r: Row) => (string | HTMLElement)[]): HTMLElement {
  const t = el('table', `jp-llmops-table jp-llmops-${kind}`);
  const hr = el('tr');
  head.forEach(h => hr.appendChild(el('th', '', h)));
  t.appendChild(hr);
  for (const r of rows) {
    const tr = el('tr', 'jp-llmops-row');
    tr.dataset.name = String(r.name ?? r.run_name ?? '');
    for (const c of cells(r)) {
      const td = el('td');
      if (typeof c === 'string') td.textContent = c;
      else td.appendChild(c);
      tr.appendChild(td);
    }
    t.appendChild(tr);
  }
  return t;
}

function button(label: string, title: string, onClick: () => void, cls = ''): HTMLButtonElement {
  const b = el('button', `jp-llmops-btn ${cls}`, label);
  b.title = title;
  b.onclick = ev => {
    ev.stopPropagation();
    onClick();
  };
  return b;
}

export function badge(status: string): HTMLElement {
  return el('span', `jp-llmops-badge jp-llmops-status-${status || 'none'}`, status || '—');
}

interface ISection {
  id: string;
  title: string;
  load: () => Promise<HTMLElement>;
}

/** The "LLMOps" left sidebar: one collapsible section per kind of thing, refreshed on demand and on a timer. */
export class LLMOpsSidebar extends Widget {
  constructor(private opener: { openDiff: (name: string, latest: number) => void }, private intervalMs = 15000) {
    super();
    this.id = 'jp-llmops-sidebar';
    this.addClass('jp-llmops-sidebar');
    const header = el('div', 'jp-llmops-header');
    header.appendChild(el('span', 'jp-llmops-title', 'LLMOps'));
    this.stamp = el('span', 'jp-llmops-stamp');
    header.appendChild(this.stamp);
    header.appendChild(button('⟳', 'Refresh', () => void this.refresh(), 'jp-llmops-refresh'));
    this.node.appendChild(header);
    for (const s of this.sections()) {
      const d = el('details', `jp-llmops-section jp-llmops-section-${s.id}`);
      d.open = true;
      d.appendChild(el('summary', '', s.title));
      const body = el('div', 'jp-llmops-body', 'loading…');
      d.appendChild(body);
      this.node.appendChild(d);
      this.bodies.set(s.id, [s, body]);
    }
  }

  private stamp: HTMLElement;
  private bodies = new Map<string, [ISection, HTMLElement]>();
  private timer: number | undefined;
  private refreshing: Promise<void> | null = null;

  private sections(): ISection[] {
    return [
      { id: 'runs', title: 'Runs', load: () => this.runs() },
      { id: 'prompts', title: 'Prompts', load: () => this.prompts() },
      { id: 'indexes', title: 'Indexes', load: () => this.indexes() },
      { id: 'jobs', title: 'Jobs', load: () => this.jobs() },
      { id: 'monitor', title: 'Monitor (24h)', load: () => this.monitor() }
    ];
  }

  /** Reload every section (each shows its own error). */
  refresh(): Promise<void> {
    if (this.refreshing) return this.refreshing;
    this.refreshing = (async () => {
      for (const [s, body] of this.bodies.values()) {
        try {
          const content = await s.load();
          body.replaceChildren(content);
        } catch (e) {
          body.replaceChildren(el('div', 'jp-llmops-error', errorText(e)));
        }
      }
      this.stamp.textContent = new Date().toLocaleTimeString();
      this.node.dataset.refreshed = String(Date.now());
    })().finally(() => (this.refreshing = null));
    return this.refreshing;
  }

  protected onAfterShow(): void {
    void this.refresh();
    this.timer = window.setInterval(() => this.isVisible && void this.refresh(), this.intervalMs);
  }
  protected onAfterAttach(): void {
    if (this.isVisible) this.onAfterShow();
  }
  protected onBeforeHide(): void {
    window.clearInterval(this.timer);
  }
  protected onBeforeDetach(): void {
    window.clearInterval(this.timer);
  }

  private empty(text: string) {
    return el('div', 'jp-llmops-empty', text);
  }

  private async runs(): Promise<HTMLElement> {
    let rows: Row[];
    try {
      rows = await api.runs();
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return this.empty('no runs yet: %%llmops track');
      throw e;
    }
    if (!rows.length) return this.empty('no runs yet: %%llmops track');
    return table('runs', ['run', 'status', 'started', 'metric'], rows.slice(0, 15), r => {
      const m = Object.keys(r).find(k => k.startsWith('metrics.') && r[k] !== null);
      return [r.run_name || r.run_id.slice(0, 8), badge(String(r.status).toLowerCase()), short(r.start_time).slice(5), m ? `${m.slice(8)} ${num(r[m])}` : ''];
    });
  }

  private async prompts(): Promise<HTMLElement> {
    const rows = await api.prompts();
    if (!rows.length) return this.empty('no prompts yet: %%llmops prompt NAME');
    return table('prompts', ['prompt', 'latest', 'aliases', ''], rows, r => [
      r.name,
      `v${r.latest}`,
      r.aliases,
      r.versions > 1 ? button('diff', `diff of ${r.name} versions`, () => this.opener.openDiff(r.name, r.latest), 'jp-llmops-diff') : ''
    ]);
  }

  private async indexes(): Promise<HTMLElement> {
    const rows = await api.indexes();
    if (!rows.length) return this.empty('no indexes yet: %llmops rag build NAME SOURCE');
    return table('indexes', ['index', 'chunks', 'type', 'built'], rows, r => [r.name, String(r.chunks ?? ''), r.index, short(r.built)]);
  }

  private async jobs(): Promise<HTMLElement> {
    const box = el('div');
    const [rows, sched] = await Promise.all([api.schedules(), api.scheduler().catch(() => null)]);
    const line = el('div', 'jp-llmops-scheduler');
    if (sched) {
      line.appendChild(el('span', '', sched.running ? `scheduler running (PID ${sched.pid})` : 'scheduler not running '));
      if (!sched.running)
        line.appendChild(button('start', 'Start the scheduler daemon', () => void this.act(api.startScheduler()), 'jp-llmops-start'));
    }
    box.appendChild(line);
    if (!rows.length) {
      box.appendChild(this.empty('no schedules: right-click a notebook → Schedule notebook…'));
      return box;
    }
    box.appendChild(
      table('jobs', ['job', 'cron', 'last', ''], rows, r => {
        const acts = el('span', 'jp-llmops-actions');
        acts.appendChild(button('▶', 'Run now', () => void this.act(api.scheduleAction(r.name, 'run')), 'jp-llmops-run'));
        acts.appendChild(
          r.paused
            ? button('resume', 'Resume', () => void this.act(api.scheduleAction(r.name, 'resume')))
            : button('pause', 'Pause', () => void this.act(api.scheduleAction(r.name, 'pause')))
        );
        acts.appendChild(button('✕', 'Remove', () => void this.remove(r.name)));
        const last = r.last ? badge(r.last.status) : badge(r.paused ? 'paused' : 'scheduled');
        if (r.last) last.title = `${short(r.last.started)} attempt ${r.last.attempt}\n${r.last.output_path || ''}${r.last.error ? '\n' + r.last.error : ''}`;
        return [r.name, `${r.cron} ${r.tz}`, last, acts];
      })
    );
    return box;
  }

  private async monitor(): Promise<HTMLElement> {
    const m = await api.monitor('24h', 'model');
    const box = el('div');
    box.appendChild(el('div', 'jp-llmops-summary', `${m.calls} LLM call(s) in the last ${m.since}`));
    if (m.summary.length)
      box.appendChild(
        table('monitor', ['model', 'calls', 'errors', 'p95 s', 'cost'], m.summary, r => [
          String(r.model),
          String(r.calls),
          `${Math.round(100 * (r.error_rate ?? 0))}%`,
          num(r.latency_p95),
          num(r.cost)
        ])
      );
    for (const a of m.alerts) box.appendChild(el('div', 'jp-llmops-error', `ALERT ${a.group}: ${a.metric} ${num(a.value)} > ${num(a.threshold)}`));
    return box;
  }

  private async act(p: Promise<unknown>) {
    try {
      await p;
    } catch (e) {
      void showDialog({ title: 'LLMOps', body: errorText(e), buttons: [Dialog.okButton()] });
    }
    await this.refresh();
  }

  private async remove(name: string) {
    const r = await showDialog({ title: 'Remove schedule', body: `Remove ${name} and its history?`, buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Remove' })] });
    if (r.button.accept) await this.act(api.removeSchedule(name));
  }
}

/** The body of the "Schedule notebook…" dialog; `getValue()` gives the request. */
export class ScheduleForm extends Widget implements Dialog.IBodyWidget<IScheduleRequest> {
  constructor(private notebook: string) {
    super();
    this.addClass('jp-llmops-form');
    const base = notebook.split('/').pop()!.replace(/\.ipynb$/, '').replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '') || 'job';
    let tz = 'UTC';
    try {
      tz = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
    } catch {
      // keep UTC
    }
    this.node.appendChild(el('div', 'jp-llmops-form-nb', notebook));
    this.field('name', 'Name', base);
    this.field('cron', 'Cron (min hour day month weekday)', '0 * * * *');
    this.field('tz', 'Time zone', tz);
    this.field('params', 'Parameters (one KEY=VALUE a line)', '', true);
    this.field('retries', 'Retries', '0', false, 'number');
  }

  private inputs: Record<string, HTMLInputElement | HTMLTextAreaElement> = {};

  private field(key: string, label: string, value: string, area = false, type = 'text') {
    const l = el('label', 'jp-llmops-field');
    l.appendChild(el('span', '', label));
    const i = area ? el('textarea') : el('input');
    if (i instanceof HTMLInputElement) i.type = type;
    i.name = key;
    i.value = value;
    i.className = 'jp-mod-styled';
    l.appendChild(i);
    this.node.appendChild(l);
    this.inputs[key] = i;
  }

  getValue(): IScheduleRequest {
    const v = (k: string) => this.inputs[k].value.trim();
    const params: Record<string, string | number | boolean> = {};
    for (const line of v('params').split('\n')) {
      if (!line.trim()) continue;
      const at = line.indexOf('=');
      if (at < 1) throw new ApiError(400, `bad parameter line ${JSON.stringify(line)}`, 'write KEY=VALUE');
      const raw = line.slice(at + 1).trim();
      let val: any = raw;
      try {
        const parsed = JSON.parse(raw);
        if (['number', 'boolean', 'string'].includes(typeof parsed)) val = parsed;
      } catch {
        // a plain string
      }
      params[line.slice(0, at).trim()] = val;
    }
    return { name: v('name'), notebook: this.notebook, cron: v('cron'), tz: v('tz') || 'UTC', params, retries: Number(v('retries') || 0) };
  }
}

/** A prompt's versions side by side as a coloured unified diff, with version pickers. */
export class PromptDiffView extends Widget {
  constructor(readonly prompt: string, latest: number) {
    super();
    this.id = `jp-llmops-diff-${prompt}`;
    this.addClass('jp-llmops-diffview');
    this.title.label = `Prompt diff: ${prompt}`;
    this.title.closable = true;
    const bar = el('div', 'jp-llmops-diffbar');
    bar.appendChild(el('b', '', prompt));
    this.a = el('select');
    this.b = el('select');
    bar.append(' version ', this.a, ' → ', this.b);
    this.a.onchange = this.b.onchange = () => void this.show();
    this.node.appendChild(bar);
    this.out = el('div', 'jp-llmops-diffbody');
    this.node.appendChild(this.out);
    void this.init(latest);
  }

  private a: HTMLSelectElement;
  private b: HTMLSelectElement;
  private out: HTMLElement;

  private async init(latest: number) {
    try {
      const view = await api.prompt(this.prompt);
      const vs = view.versions.map(v => v[0]).sort((x, y) => x - y);
      for (const s of [this.a, this.b])
        for (const v of vs) {
          const o = el('option', '', `v${v}${(view.versions.find(x => x[0] === v)?.[2] || []).map(a => ' @' + a).join('')}`);
          o.value = String(v);
          s.appendChild(o);
        }
      this.b.value = String(latest);
      this.a.value = String(vs[Math.max(0, vs.indexOf(latest) - 1)]);
      await this.show();
    } catch (e) {
      this.out.replaceChildren(el('div', 'jp-llmops-error', errorText(e)));
    }
  }

  async show(v1 = Number(this.a.value), v2 = Number(this.b.value)) {
    try {
      const d = await api.diff(this.prompt, v1, v2);
      const pre = el('pre', 'jp-llmops-diff-lines');
      if (!d.lines.length) pre.appendChild(el('div', 'jp-llmops-same', `v${v1} and v${v2} are identical`));
      for (const line of d.lines) {
        const kind = line.startsWith('@@') ? 'hunk' : line.startsWith('+++') || line.startsWith('---') ? 'file' : line[0] === '+' ? 'add' : line[0] === '-' ? 'del' : 'ctx';
        pre.appendChild(el('div', `jp-llmops-diff-${kind}`, line));
      }
      const sides = el('div', 'jp-llmops-sides');
      for (const [label, text] of [[`v${d.a}`, d.text_a], [`v${d.b}`, d.text_b]]) {
        const col = el('div', 'jp-llmops-side');
        col.appendChild(el('div', 'jp-llmops-side-title', label));
        col.appendChild(el('pre', '', text));
        sides.appendChild(col);
      }
      this.out.replaceChildren(pre, sides);
    } catch (e) {
      this.out.replaceChildren(el('div', 'jp-llmops-error', errorText(e)));
    }
  }
}
