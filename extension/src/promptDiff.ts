// A prompt's versions as a coloured unified diff and side by side, in the main area.
import { Widget } from '@lumino/widgets';
import { api } from './api';
import { el, errorText } from './dom';

/** A prompt's versions side by side as a coloured unified diff, with version pickers. */
export class PromptDiffView extends Widget {
  constructor(
    readonly prompt: string,
    latest: number
  ) {
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
    void this.load(latest);
  }

  private a: HTMLSelectElement;
  private b: HTMLSelectElement;
  private out: HTMLElement;

  /** Read the prompt's versions (again) and show `latest` against the version before it. */
  async load(latest: number) {
    try {
      const view = await api.prompt(this.prompt);
      this.a.replaceChildren();
      this.b.replaceChildren();
      const vs = view.versions.map(v => v[0]).sort((x, y) => x - y);
      for (const s of [this.a, this.b])
        for (const v of vs) {
          const o = el(
            'option',
            '',
            `v${v}${(view.versions.find(x => x[0] === v)?.[2] || []).map(a => ' @' + a).join('')}`
          );
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
        const kind = line.startsWith('@@')
          ? 'hunk'
          : line.startsWith('+++') || line.startsWith('---')
            ? 'file'
            : line[0] === '+'
              ? 'add'
              : line[0] === '-'
                ? 'del'
                : 'ctx';
        pre.appendChild(el('div', `jp-llmops-diff-${kind}`, line));
      }
      const sides = el('div', 'jp-llmops-sides');
      for (const [label, text] of [
        [`v${d.a}`, d.text_a],
        [`v${d.b}`, d.text_b]
      ]) {
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
