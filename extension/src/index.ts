// jupyter-llmops in JupyterLab: the LLMOps sidebar, "Schedule notebook…" (toolbar, file browser, palette), prompt diffs.
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import {
  Dialog,
  ICommandPalette,
  InputDialog,
  MainAreaWidget,
  Notification,
  showDialog,
  ToolbarButton
} from '@jupyterlab/apputils';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { LabIcon } from '@jupyterlab/ui-components';
import { api, ApiError } from './api';
import { PromptDiffView } from './promptDiff';
import { ScheduleFields, ScheduleForm } from './scheduleForm';
import { LLMOpsSidebar } from './sidebar';

const ICON = new LabIcon({
  name: 'jupyter-llmops:icon',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24"><g class="jp-icon3" fill="#616161">' +
    '<path d="M3 3h8v8H3zm10 0h8v5h-8zM13 10h8v11h-8zM3 13h8v8H3z"/></g></svg>'
});
const CLOCK = new LabIcon({
  name: 'jupyter-llmops:clock',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24"><g class="jp-icon3" fill="#616161">' +
    '<path d="M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm0 18a8 8 0 1 1 0-16 8 8 0 0 1 0 16zm.5-13H11v6l5.2 3.2.8-1.3-4.5-2.7z"/></g></svg>'
});

export const CommandIDs = {
  open: 'llmops:open-sidebar',
  refresh: 'llmops:refresh',
  schedule: 'llmops:schedule-notebook',
  diff: 'llmops:prompt-diff',
  startScheduler: 'llmops:start-scheduler'
};

/** The plugin's id; its settings schema is schema/plugin.json. */
const PLUGIN_ID = 'jupyter-llmops:plugin';
/** The sidebar's refresh interval in seconds without a settings registry (the schema's default). */
const DEFAULT_REFRESH_S = 15;

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    'Runs, prompts, indexes, jobs and monitors of jupyter-llmops in JupyterLab; schedule notebooks; prompt diffs.',
  autoStart: true,
  optional: [ICommandPalette, INotebookTracker, IDefaultFileBrowser, ISettingRegistry],
  activate: (
    app: JupyterFrontEnd,
    palette: ICommandPalette | null,
    notebooks: INotebookTracker | null,
    browser: IDefaultFileBrowser | null,
    settingRegistry: ISettingRegistry | null
  ) => {
    const { commands, shell } = app;
    const diffs = new Map<string, MainAreaWidget<PromptDiffView>>(); // one tab per prompt: a second "diff" shows it again
    const openDiff = (name: string, latest: number) => {
      const open = diffs.get(name);
      if (open && !open.isDisposed) {
        void open.content.load(latest); // a version added since it opened is listed
        return shell.activateById(open.id);
      }
      const content = new PromptDiffView(name, latest);
      const widget = new MainAreaWidget({ content });
      widget.id = `jp-llmops-diff-${name}-${Date.now()}`;
      widget.title.label = `Prompt diff: ${name}`;
      widget.title.icon = ICON;
      diffs.set(name, widget);
      widget.disposed.connect(() => diffs.get(name) === widget && diffs.delete(name));
      shell.add(widget, 'main');
      shell.activateById(widget.id);
    };
    const sidebar = new LLMOpsSidebar({ openDiff }, DEFAULT_REFRESH_S * 1000);
    sidebar.title.icon = ICON;
    sidebar.title.caption = 'LLMOps: runs, prompts, indexes, jobs, monitor';
    shell.add(sidebar, 'left', { rank: 850 });
    if (settingRegistry)
      settingRegistry
        .load(PLUGIN_ID)
        .then(settings => {
          const apply = () => {
            const s = settings.get('refreshInterval').composite;
            sidebar.setRefreshInterval(1000 * (typeof s === 'number' && s >= 0 ? s : DEFAULT_REFRESH_S));
          };
          apply();
          settings.changed.connect(apply);
        })
        .catch(reason =>
          console.warn(
            `jupyter-llmops: settings not loaded, the sidebar refreshes every ${DEFAULT_REFRESH_S} s`,
            reason
          )
        );

    commands.addCommand(CommandIDs.open, {
      label: 'LLMOps: Show Sidebar',
      execute: () => shell.activateById(sidebar.id)
    });
    commands.addCommand(CommandIDs.refresh, {
      label: 'LLMOps: Refresh Sidebar',
      execute: () => sidebar.refresh()
    });
    commands.addCommand(CommandIDs.startScheduler, {
      label: 'LLMOps: Start Scheduler',
      execute: async () => {
        try {
          const st = await api.startScheduler();
          Notification.success(`scheduler running (PID ${st.pid})`, { autoClose: 4000 });
        } catch (e) {
          Notification.error(e instanceof ApiError ? e.text : String(e));
        }
        await sidebar.refresh();
      }
    });
    commands.addCommand(CommandIDs.diff, {
      label: 'LLMOps: Diff Prompt Versions…',
      execute: async args => {
        let name = args.name as string | undefined;
        let latest = args.latest as number | undefined;
        if (!name) {
          const prompts = await api.prompts();
          if (!prompts.length) return Notification.info('no prompts yet: %%llmops prompt NAME');
          const pick = await InputDialog.getItem({ title: 'Diff versions of prompt', items: prompts.map(p => p.name) });
          if (!pick.button.accept || !pick.value) return;
          name = pick.value;
          latest = prompts.find(p => p.name === name)?.latest ?? 1;
        }
        openDiff(name, latest ?? 1);
      }
    });
    const currentPath = (fromBrowser = false): string | undefined => {
      if (fromBrowser) {
        const item = browser?.selectedItems().next();
        return item && !item.done && item.value.type === 'notebook' ? item.value.path : undefined;
      }
      const w = shell.currentWidget;
      if (notebooks && w && notebooks.has(w)) return (w as NotebookPanel).context.path;
      const item = browser?.selectedItems().next();
      if (item && !item.done && item.value.type === 'notebook') return item.value.path;
      return notebooks?.currentWidget?.context.path;
    };
    commands.addCommand(CommandIDs.schedule, {
      label: 'Schedule notebook…',
      caption: 'Run this notebook on a cron schedule (jupyter-llmops)',
      icon: args => (args.toolbar ? CLOCK : undefined),
      execute: async args => {
        const path = (args.path as string) || currentPath(!!args.fromBrowser);
        if (!path) return Notification.warning('Open or select a notebook to schedule');
        // A refused request opens the form again with what was typed and the error in it: nothing typed is lost.
        let fields: ScheduleFields | undefined;
        let error = '';
        for (;;) {
          const res = await showDialog({
            title: 'Schedule notebook',
            body: new ScheduleForm(path, fields, error),
            buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Schedule' })],
            focusNodeSelector: 'input'
          });
          if (!res.button.accept || !res.value) return;
          fields = res.value;
          try {
            const sch = await api.addSchedule(ScheduleForm.request(path, fields));
            Notification.success(`scheduled ${sch.name}: ${sch.cron} (${sch.tz}); next run ${sch.next_run || '—'}`, {
              autoClose: 5000
            });
            break;
          } catch (e) {
            error = e instanceof ApiError ? e.text : String(e);
          }
        }
        await sidebar.refresh();
      }
    });

    app.contextMenu.addItem({
      command: CommandIDs.schedule,
      selector: '.jp-DirListing-item[data-file-type="notebook"]',
      rank: 10,
      args: { fromBrowser: true }
    });
    app.docRegistry.addWidgetExtension('Notebook', {
      createNew: (panel: NotebookPanel) => {
        const btn = new ToolbarButton({
          icon: CLOCK,
          tooltip: 'Schedule notebook…',
          className: 'jp-llmops-schedule-button',
          onClick: () => void commands.execute(CommandIDs.schedule, { path: panel.context.path })
        });
        panel.toolbar.insertItem(10, 'llmopsSchedule', btn);
        return btn;
      }
    });
    if (palette) for (const command of Object.values(CommandIDs)) palette.addItem({ command, category: 'LLMOps' });
  }
};

export default plugin;
