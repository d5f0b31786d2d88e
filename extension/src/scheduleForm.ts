// The body of the "Schedule notebook…" dialog.
import { Dialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';
import { ApiError, IScheduleRequest } from './api';
import { el } from './dom';

/** The longest schedule name the server takes (files.check_name). */
const MAX_NAME = 128;

/** What the user typed in the form, field by field. */
export type ScheduleFields = Record<'name' | 'cron' | 'tz' | 'params' | 'retries', string>;

/**
 * The body of the "Schedule notebook…" dialog. `getValue()` gives the fields as typed and never throws (the dialog
 * calls it as it closes); `request()` reads them into the request, or throws an `ApiError` that says what to fix.
 * Built again with the same `values` and the `error` when the server refuses the request, so nothing typed is lost.
 */
export class ScheduleForm extends Widget implements Dialog.IBodyWidget<ScheduleFields> {
  constructor(notebook: string, values: Partial<ScheduleFields> = {}, error = '') {
    super();
    this.addClass('jp-llmops-form');
    const base = (
      notebook
        .split('/')
        .pop()!
        .replace(/\.ipynb$/, '')
        .replace(/[^A-Za-z0-9._-]+/g, '-')
        .replace(/^[^A-Za-z0-9]+/, '') || 'job'
    ).slice(0, MAX_NAME);
    let tz = 'UTC';
    try {
      tz = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
    } catch {
      // keep UTC
    }
    this.node.appendChild(el('div', 'jp-llmops-form-nb', notebook));
    if (error) this.node.appendChild(el('div', 'jp-llmops-error jp-llmops-form-error', error));
    this.field('name', 'Name', values.name ?? base);
    this.field('cron', 'Cron (min hour day month weekday)', values.cron ?? '0 * * * *');
    this.field('tz', 'Time zone', values.tz ?? tz);
    this.field('params', 'Parameters (one KEY=VALUE a line)', values.params ?? '', true);
    this.field('retries', 'Retries', values.retries ?? '0', false, 'number');
  }

  private inputs = {} as Record<keyof ScheduleFields, HTMLInputElement | HTMLTextAreaElement>;

  private field(key: keyof ScheduleFields, label: string, value: string, area = false, type = 'text') {
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

  /** The fields as typed. */
  getValue(): ScheduleFields {
    const f = {} as ScheduleFields;
    for (const k of Object.keys(this.inputs) as (keyof ScheduleFields)[]) f[k] = this.inputs[k].value;
    return f;
  }

  /** The request the fields make; an `ApiError` names a parameter line that is not KEY=VALUE. */
  static request(notebook: string, f: ScheduleFields): IScheduleRequest {
    const params: Record<string, string | number | boolean> = {};
    for (const line of f.params.split('\n')) {
      if (!line.trim()) continue;
      const at = line.indexOf('=');
      if (at < 1) throw new ApiError(400, `bad parameter line ${JSON.stringify(line.trim())}`, 'write KEY=VALUE');
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
      name: f.name.trim(),
      notebook,
      cron: f.cron.trim(),
      tz: f.tz.trim() || 'UTC',
      params,
      retries: Number(f.retries.trim() || 0)
    };
  }
}
