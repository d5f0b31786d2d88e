// The body of the "Schedule notebook…" dialog.
import { Dialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';
import { ApiError, IScheduleRequest } from './api';
import { el } from './dom';

/** The body of the "Schedule notebook…" dialog; `getValue()` gives the request. */
export class ScheduleForm extends Widget implements Dialog.IBodyWidget<IScheduleRequest> {
  constructor(private notebook: string) {
    super();
    this.addClass('jp-llmops-form');
    const base =
      notebook
        .split('/')
        .pop()!
        .replace(/\.ipynb$/, '')
        .replace(/[^A-Za-z0-9._-]+/g, '-')
        .replace(/^[^A-Za-z0-9]+/, '') || 'job';
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
      let val: string | number | boolean = raw;
      try {
        const parsed: unknown = JSON.parse(raw);
        if (typeof parsed === 'number' || typeof parsed === 'boolean' || typeof parsed === 'string') val = parsed;
      } catch {
        // a plain string
      }
      params[line.slice(0, at).trim()] = val;
    }
    return {
      name: v('name'),
      notebook: this.notebook,
      cron: v('cron'),
      tz: v('tz') || 'UTC',
      params,
      retries: Number(v('retries') || 0)
    };
  }
}
