// The "LLMOps" left sidebar: Runs, Prompts, Indexes, Jobs, Monitor.
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';
import { api, ApiError, IHallucinationRate, IRun } from './api';
import { badge, button, el, errorText, num, short, table } from './dom';

const SVG = 'http://www.w3.org/2000/svg';
const COLOURS = ['#cf222e', '#0969da', '#1a7f37', '#9a6700', '#8250df', '#57606a'];

/** An SVG element with attributes. */
function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number>
): SVGElementTagNameMap[K] {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

/** The hallucination rate over time, one line per group (at most six), as a small SVG chart with a legend. */
export function rateChart(rates: IHallucinationRate[], evaluator: string): HTMLElement {
  const box = el('div', 'jp-llmops-chart jp-llmops-hallucination');
  box.appendChild(el('div', 'jp-llmops-chart-title', `hallucination rate (${evaluator} under its threshold)`));
  const [w, h, pad] = [260, 90, 4];
  const times = rates.map(r => Date.parse(r.time));
  const [t0, t1] = [Math.min(...times), Math.max(...times)];
  const x = (t: number) => pad + (t1 > t0 ? ((t - t0) / (t1 - t0)) * (w - 2 * pad) : (w - 2 * pad) / 2);
  const y = (v: number) => h - pad - v * (h - 2 * pad);
  const chart = svg('svg', { width: w, height: h, viewBox: `0 0 ${w} ${h}`, role: 'img' });
  chart.appendChild(
    svg('rect', { x: 0, y: 0, width: w, height: h, fill: 'none', style: 'stroke: var(--jp-border-color2)' })
  );
  const groups = [...new Set(rates.map(r => r.group))].slice(0, COLOURS.length);
  groups.forEach((g, i) => {
    const pts = rates
      .filter(r => r.group === g)
      .map(r => `${x(Date.parse(r.time)).toFixed(1)},${y(r.hallucination_rate).toFixed(1)}`);
    chart.appendChild(
      svg('polyline', { points: pts.join(' '), fill: 'none', stroke: COLOURS[i], 'stroke-width': 1.5 })
    );
    for (const p of pts) {
      const [cx, cy] = p.split(',');
      chart.appendChild(svg('circle', { cx, cy, r: 2, fill: COLOURS[i] }));
    }
  });
  box.appendChild(chart);
  const legend = el('div', 'jp-llmops-legend');
  groups.forEach((g, i) => {
    const item = el('span', 'jp-llmops-legend-item', `■ ${g}`);
    item.style.color = COLOURS[i];
    legend.appendChild(item);
  });
  box.appendChild(legend);
  return box;
}

/** How many of the newest runs the Runs section lists. */
const SHOWN_RUNS = 15;

/** How many of the most recently changed prompts the Prompts section lists. */
const SHOWN_PROMPTS = 15;

/** A column of a run's metric in the runs table. */
const isMetric = (k: string): k is `metrics.${string}` => k.startsWith('metrics.');

interface ISection {
  id: string;
  title: string;
  load: () => Promise<HTMLElement>;
}

/** The "LLMOps" left sidebar: one collapsible section per kind of thing, refreshed on demand and every `intervalMs` (0: never). */
export class LLMOpsSidebar extends Widget {
  constructor(
    private opener: { openDiff: (name: string, latest: number) => void },
    private intervalMs = 15000
  ) {
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
  /** Each section's newest load: an older one that ends later (fetched before an action) does not replace it. */
  private loads = new Map<string, number>();

  private sections(): ISection[] {
    return [
      { id: 'runs', title: 'Runs', load: () => this.runs() },
      { id: 'prompts', title: 'Prompts', load: () => this.prompts() },
      { id: 'indexes', title: 'Indexes', load: () => this.indexes() },
      { id: 'jobs', title: 'Jobs', load: () => this.jobs() },
      { id: 'monitor', title: 'Monitor (24h)', load: () => this.monitor() }
    ];
  }

  /**
   * Reload every section side by side (a slow one, MLflow waiting on a locked database, holds back no other); each
   * shows its own error. The keyboard focus stays on the same control of the same row when its section is rebuilt.
   */
  refresh(): Promise<void> {
    if (this.refreshing) return this.refreshing;
    this.node.classList.add('jp-mod-refreshing');
    this.stamp.textContent = 'refreshing…';
    this.refreshing = (async () => {
      await Promise.all([...this.bodies.values()].map(([s, body]) => this.load(s, body)));
      this.stamp.textContent = new Date().toLocaleTimeString();
      this.node.dataset.refreshed = String(Date.now());
    })().finally(() => {
      this.refreshing = null;
      this.node.classList.remove('jp-mod-refreshing');
    });
    return this.refreshing;
  }

  /** Load section `s` into `body`, or its error; dropped when a newer load of it began meanwhile. */
  private async load(s: ISection, body: HTMLElement): Promise<void> {
    const seq = (this.loads.get(s.id) ?? 0) + 1;
    this.loads.set(s.id, seq);
    let content: HTMLElement;
    try {
      content = await s.load();
    } catch (e) {
      content = el('div', 'jp-llmops-error', errorText(e));
    }
    if (this.loads.get(s.id) !== seq) return;
    const focus = this.focusKey(document.activeElement); // where it is as this section is rebuilt, not as the refresh began
    body.replaceChildren(content);
    if (focus && !this.node.contains(document.activeElement)) this.refocus(body, focus);
  }

  /** A control in a section's body as a key that outlives the rebuild: section, row name, kind and tooltip. */
  private focusKey(e: Element | null): string | null {
    if (!(e instanceof HTMLElement) || !this.node.contains(e) || !e.closest('.jp-llmops-body')) return null;
    const row = e.closest<HTMLElement>('tr.jp-llmops-row');
    return [e.closest('.jp-llmops-section')?.className, row?.dataset.name, e.tagName, e.className, e.title].join(
      '\u0000'
    );
  }

  /** Focus the control of `body` whose key is `key`, if it is still there. */
  private refocus(body: HTMLElement, key: string): void {
    const again = Array.from(body.querySelectorAll<HTMLElement>('button, a, [tabindex]')).find(
      x => this.focusKey(x) === key
    );
    again?.focus({ preventScroll: true });
  }

  /** Refresh every `ms` milliseconds while shown (the refreshInterval setting); 0 stops the timer. */
  setRefreshInterval(ms: number): void {
    this.intervalMs = ms;
    if (this.isVisible) this.startTimer();
  }

  private startTimer(): void {
    this.stopTimer();
    if (this.intervalMs > 0)
      this.timer = window.setInterval(() => this.isVisible && void this.refresh(), this.intervalMs);
  }
  private stopTimer(): void {
    window.clearInterval(this.timer);
    this.timer = undefined;
  }

  protected onAfterShow(): void {
    void this.refresh();
    this.startTimer();
  }
  protected onAfterAttach(): void {
    if (this.isVisible) this.onAfterShow();
  }
  protected onBeforeHide(): void {
    this.stopTimer();
  }
  protected onBeforeDetach(): void {
    this.stopTimer();
  }

  private empty(text: string) {
    return el('div', 'jp-llmops-empty', text);
  }

  private async runs(): Promise<HTMLElement> {
    let rows: IRun[];
    try {
      rows = await api.runs();
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return this.empty('no runs yet: %%llmops track');
      throw e;
    }
    if (!rows.length) return this.empty('no runs yet: %%llmops track');
    const box = el('div');
    box.appendChild(
      table('runs', ['run', 'status', 'started', 'metric'], rows.slice(0, SHOWN_RUNS), r => {
        const m = Object.keys(r)
          .filter(isMetric)
          .find(k => r[k] !== null);
        return [
          r.run_name || r.run_id.slice(0, 8),
          badge(String(r.status).toLowerCase()),
          short(r.start_time).slice(5),
          m ? `${m.slice(8)} ${num(r[m])}` : ''
        ];
      })
    );
    if (rows.length > SHOWN_RUNS)
      box.appendChild(this.empty(`the newest ${SHOWN_RUNS} runs: %llmops runs (or the MLflow UI) lists them all`));
    return box;
  }

  private async prompts(): Promise<HTMLElement> {
    const all = await api.prompts();
    if (!all.length) return this.empty('no prompts yet: %%llmops prompt NAME');
    // the most recently changed first (the API lists them by name); a registry of thousands is not drawn row by row
    const rows = [...all].sort((a, b) => b.updated.localeCompare(a.updated)).slice(0, SHOWN_PROMPTS);
    const box = el('div');
    box.appendChild(
      table('prompts', ['prompt', 'latest', 'aliases', ''], rows, r => [
        r.name,
        `v${r.latest}`,
        r.aliases,
        r.versions > 1
          ? button(
              'diff',
              `diff of ${r.name} versions`,
              () => this.opener.openDiff(r.name, r.latest ?? 1),
              'jp-llmops-diff'
            )
          : ''
      ])
    );
    if (all.length > SHOWN_PROMPTS)
      box.appendChild(
        this.empty(`the ${SHOWN_PROMPTS} last changed of ${all.length} prompts: %llmops prompt list lists them all`)
      );
    return box;
  }

  private async indexes(): Promise<HTMLElement> {
    const rows = await api.indexes();
    if (!rows.length) return this.empty('no indexes yet: %llmops rag build NAME SOURCE');
    return table('indexes', ['index', 'chunks', 'type', 'built'], rows, r => {
      const kind = el('span', r.problem ? 'jp-llmops-error' : '', r.index);
      if (r.problem) kind.title = r.problem; // why it is damaged, and the fix
      return [r.name, String(r.chunks ?? ''), kind, short(r.built)];
    });
  }

  private async jobs(): Promise<HTMLElement> {
    const box = el('div');
    const [rows, sched] = await Promise.all([api.schedules(), api.scheduler().catch(() => null)]);
    const line = el('div', 'jp-llmops-scheduler');
    if (sched) {
      line.appendChild(
        el('span', '', sched.running ? `scheduler running (PID ${sched.pid})` : 'scheduler not running ')
      );
      if (!sched.running)
        line.appendChild(
          button('start', 'Start the scheduler daemon', () => void this.act(api.startScheduler()), 'jp-llmops-start')
        );
    }
    box.appendChild(line);
    if (!rows.length) {
      box.appendChild(this.empty('no schedules: right-click a notebook → Schedule notebook…'));
      return box;
    }
    box.appendChild(
      table('jobs', ['job', 'cron', 'last', ''], rows, r => {
        const acts = el('span', 'jp-llmops-actions');
        acts.appendChild(
          button('▶', 'Run now', () => void this.act(api.scheduleAction(r.name, 'run')), 'jp-llmops-run')
        );
        acts.appendChild(
          r.paused
            ? button('resume', 'Resume', () => void this.act(api.scheduleAction(r.name, 'resume')))
            : button('pause', 'Pause', () => void this.act(api.scheduleAction(r.name, 'pause')))
        );
        acts.appendChild(button('✕', 'Remove', () => void this.remove(r.name)));
        const last = r.last ? badge(r.last.status) : badge(r.paused ? 'paused' : 'scheduled');
        if (r.last)
          last.title = `${short(r.last.started)} attempt ${r.last.attempt}\n${r.last.output_path || ''}${r.last.error ? '\n' + r.last.error : ''}`;
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
        table('monitor', ['model', 'calls', 'errors', 'p95 s', 'cost', 'grounded', 'halluc.'], m.summary, r => [
          String(r.model),
          String(r.calls),
          `${Math.round(100 * (r.error_rate ?? 0))}%`,
          num(r.latency_p95),
          num(r.cost),
          num(r.groundedness ?? '—', 2),
          r.hallucination_rate === null || r.hallucination_rate === undefined
            ? '—'
            : `${Math.round(100 * r.hallucination_rate)}%`
        ])
      );
    if (m.rates.length) box.appendChild(rateChart(m.rates, m.evaluator));
    for (const a of m.alerts)
      box.appendChild(
        // a value over its threshold that JSON cannot hold (null) is an infinite one: NaN is over no threshold
        el(
          'div',
          'jp-llmops-error',
          `ALERT ${a.group}: ${a.metric} ${a.value === null ? '∞' : num(a.value)} > ${num(a.threshold)}`
        )
      );
    return box;
  }

  private async act(p: Promise<unknown>) {
    try {
      await p;
    } catch (e) {
      void showDialog({ title: 'LLMOps', body: errorText(e), buttons: [Dialog.okButton()] });
    }
    // the jobs section reloaded on its own: a refresh in flight (a slow MLflow holding it) fetched the list before the action
    const jobs = this.bodies.get('jobs');
    await Promise.all([jobs ? this.load(...jobs) : null, this.refresh()]);
  }

  private async remove(name: string) {
    const r = await showDialog({
      title: 'Remove schedule',
      body: `Remove ${name} and its history?`,
      buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Remove' })]
    });
    if (r.button.accept) await this.act(api.removeSchedule(name));
  }
}
