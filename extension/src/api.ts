// The REST client of the server extension: /llmops/api/... on the Jupyter server (token and XSRF handled by ServerConnection).
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** An error answered by the API: HTTP status, message and the hint that says how to fix it. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly hint: string = ''
  ) {
    super(message);
  }
  /** Message and hint, for a status line or a notification. */
  get text(): string {
    return this.hint ? `${this.message} (${this.hint})` : this.message;
  }
}

// The JSON the server answers: `jsonable` of the commands' typed results (server.py). DataFrames arrive as records (one
// object per row, NaN as null, times as ISO 8601 strings), dataclasses as objects of their fields.

/** A JSON value as the server writes it. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** GET status: the kit's version, its settings, the offline model assets and the installed components. */
export interface IStatus {
  version: string;
  /** `file` is the settings.ini in use (null: defaults); every other key of config.KEYS maps to its value as text. */
  settings: { file: string | null; [key: string]: string | null };
  assets: { name: string; ok: boolean; detail: string }[];
  /** distribution -> version, null when not installed */
  components: Record<string, string | null>;
  /** every asset is there */
  ok: boolean;
}

/** GET runs: one MLflow run of the experiment (tracking.runs), newest (or best by ?metric=) first. */
export interface IRun {
  run_id: string;
  run_name: string | null;
  /** FINISHED | FAILED | RUNNING | KILLED */
  status: string;
  start_time: string | null;
  /** one column per metric logged in the experiment; null where this run did not log it */
  [metric: `metrics.${string}`]: number | null;
  /** one column per param logged in the experiment */
  [param: `params.${string}`]: string | null;
}

/** GET prompts: one registered prompt (prompts.list_prompts). */
export interface IPrompt {
  name: string;
  /** the newest version; null only for a prompt without versions */
  latest: number | null;
  /** how many versions */
  versions: number;
  /** "alias=version, ..." */
  aliases: string;
  updated: string;
  /** the latest version's commit message */
  message: string;
}

/** One version of a prompt in `IPromptView.versions`: [version, commit message, aliases]. */
export type PromptVersion = [number, string, string[]];

/** A run that used a prompt version (prompts.usage). */
export interface IPromptRun {
  run_id: string;
  run_name: string | null;
  experiment_id: string;
  status: string;
  start_time: string | null;
}

/** GET prompts/NAME: one prompt version with its siblings and lineage (prompts.PromptView). */
export interface IPromptView {
  name: string;
  version: number;
  template: string;
  message: string;
  aliases: string[];
  created: string;
  versions: PromptVersion[];
  runs: IPromptRun[] | null;
  /** ids of the traces of calls that used this version */
  traces: string[];
}

/** GET prompts/NAME/diff?v1=&v2=: both texts and their unified diff, line by line. */
export interface IPromptDiff {
  name: string;
  a: number;
  b: number;
  text_a: string;
  text_b: string;
  lines: string[];
}

/** GET indexes: one RAG index under the kit's home (rag.list_indexes); a damaged one has nulls and index "damaged". */
export interface IIndex {
  name: string;
  version: number | null;
  files: number | null;
  chunks: number | null;
  /** flat | hnsw | ivf | damaged */
  index: string;
  model: string;
  built: string;
  /** why a damaged index cannot be read, and the fix ("" when it can) */
  problem?: string;
}

/**
 * One row of the monitor summary: one group of calls (monitor.monitor).
 *
 * The only dynamic table of the API, hence the index signature: the group's column is named after `by` (model, prompt
 * or route), evaluator means (relevance, no_pii, non_toxic, groundedness) and the hallucination rate come unless ?eval=0
 * (by default from the scores cached in the background), and by=route adds per_model, top_model, cost_all_top,
 * cost_share, score and score_top.
 */
export interface IMonitorRow {
  calls: number;
  error_rate: number | null;
  latency_p50: number | null;
  latency_p95: number | null;
  tokens: number;
  cost: number | null;
  flagged: number;
  /** mean groundedness of the calls that had retrieved context (null: none) */
  groundedness?: number | null;
  /** calls that had retrieved context */
  with_context?: number;
  /** share of the calls with context judged not grounded (null: none) */
  hallucination_rate?: number | null;
  [column: string]: string | number | boolean | null | undefined;
}

/** The hallucination rate of one group in one time bucket (monitor.MonitorResult.rates). */
export interface IHallucinationRate {
  /** start of the bucket, ISO 8601 */
  time: string;
  group: string;
  with_context: number;
  hallucinated: number;
  hallucination_rate: number;
}

/** An alert raised by the monitor: `metric` of `group` above the configured threshold. */
export interface IMonitorAlert {
  group: string;
  /** latency_p95 | error_rate | cost | hallucination_rate */
  metric: string;
  value: number;
  threshold: number;
}

/** One of the latest recorded LLM calls of the window. */
export interface IRecentCall {
  time: string;
  model: string;
  prompt: string;
  latency_s: number | null;
  error: boolean;
  flagged: boolean;
  /** null: no retrieved context, or not scored */
  groundedness?: number | null;
}

/** GET monitor?since=&by=: the summary per group, the alerts and the latest calls (at most 50). */
export interface IMonitor {
  since: string;
  by: string;
  /** how many calls in the window */
  calls: number;
  summary: IMonitorRow[];
  alerts: IMonitorAlert[];
  recent: IRecentCall[];
  /** the evaluator behind the groundedness column (setting hallucination_evaluator) */
  evaluator: string;
  /** the hallucination rate over time, per group */
  rates: IHallucinationRate[];
}

/** A scheduled notebook (store.Schedule.to_dict): POST schedules, DELETE schedules/NAME, pause and resume answer one. */
export interface ISchedule {
  name: string;
  notebook: string;
  cron: string;
  tz: string;
  params: { [key: string]: JsonValue };
  retries: number;
  /** seconds; null: no deadline */
  timeout: number | null;
  /** local | dask */
  executor: string;
  paused: boolean;
  root: string;
  /** epoch seconds */
  created: number;
  /** the next tick (UTC); "" while paused */
  next_run: string;
}

/** One attempt of a scheduled notebook (store.HistoryRow.to_dict): GET schedules/NAME/history answers them newest first. */
export interface IHistoryRow {
  started: string | null;
  finished: string | null;
  /** queued | running | succeeded | failed | timed_out */
  status: string;
  attempt: number;
  output_path: string;
  schedule: string;
  tick: string | null;
  /** cron | manual */
  trigger: string;
  error: string;
  run_id: string;
  html_path: string;
  id: number;
}

/** GET schedules: each schedule with its latest attempt (null before the first). */
export interface IScheduleRow extends ISchedule {
  last: IHistoryRow | null;
}

/** POST schedules/NAME/run: the attempt started in the background (202). */
export interface IRunStarted {
  schedule: string;
  started: boolean;
}

/** GET and POST scheduler: whether the scheduler daemon runs (pipelines.scheduler.SchedulerStatus). */
export interface ISchedulerStatus {
  running: boolean;
  pid: number | null;
  pidfile: string;
  log: string;
  /** epoch seconds */
  started: number | null;
  owner: string;
}

export interface IScheduleRequest {
  name: string;
  notebook: string;
  cron: string;
  tz?: string;
  params?: Record<string, string | number | boolean>;
  retries?: number;
  timeout?: number;
}

/** How long a call waits for the server's whole answer (a tracking store waits up to 30 s on a locked database). */
const ANSWER_MS = 90_000;

/** Call the API; resolve to its JSON, or reject with an ApiError. */
export async function requestAPI<T>(
  path: string,
  init: RequestInit = {},
  query: Record<string, string> = {}
): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const qs = new URLSearchParams(query).toString();
  const url = URLExt.join(settings.baseUrl, 'llmops', 'api', path) + (qs ? `?${qs}` : '');
  let response: Response;
  let text: string;
  const abort = new AbortController(); // a server that never answers (stopped, hung) is said, not "refreshing…" for ever
  const timer = window.setTimeout(() => abort.abort(), ANSWER_MS);
  try {
    response = await ServerConnection.makeRequest(url, { ...init, signal: abort.signal }, settings);
    text = await response.text();
  } catch (error) {
    if (abort.signal.aborted) throw new ApiError(0, `the Jupyter server did not answer in ${ANSWER_MS / 1000} s`);
    throw new ApiError(0, `the Jupyter server cannot be reached: ${error}`);
  } finally {
    window.clearTimeout(timer);
  }
  let data: unknown = text;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    // not JSON (e.g. the server's own 404 page)
  }
  if (!response.ok) {
    const err: { message?: string; hint?: string } = data && typeof data === 'object' ? data : {};
    const message = err.message || response.statusText || `HTTP ${response.status}`;
    throw new ApiError(response.status, message, err.hint || '');
  }
  return data as T;
}

const post = (body: object = {}): RequestInit => ({ method: 'POST', body: JSON.stringify(body) });

export const api = {
  status: () => requestAPI<IStatus>('status'),
  runs: (experiment?: string) => requestAPI<IRun[]>('runs', {}, experiment ? { experiment } : {}),
  prompts: () => requestAPI<IPrompt[]>('prompts'),
  prompt: (name: string) => requestAPI<IPromptView>(`prompts/${encodeURIComponent(name)}`),
  diff: (name: string, v1: number, v2: number) =>
    requestAPI<IPromptDiff>(`prompts/${encodeURIComponent(name)}/diff`, {}, { v1: String(v1), v2: String(v2) }),
  indexes: () => requestAPI<IIndex[]>('indexes'),
  monitor: (since = '24h', by = 'model') => requestAPI<IMonitor>('monitor', {}, { since, by }),
  schedules: () => requestAPI<IScheduleRow[]>('schedules'),
  addSchedule: (req: IScheduleRequest) => requestAPI<ISchedule>('schedules', post(req)),
  removeSchedule: (name: string) =>
    requestAPI<ISchedule>(`schedules/${encodeURIComponent(name)}`, { method: 'DELETE' }),
  scheduleAction: <A extends 'pause' | 'resume' | 'run'>(name: string, action: A) =>
    requestAPI<A extends 'run' ? IRunStarted : ISchedule>(`schedules/${encodeURIComponent(name)}/${action}`, post()),
  history: (name: string) => requestAPI<IHistoryRow[]>(`schedules/${encodeURIComponent(name)}/history`),
  scheduler: () => requestAPI<ISchedulerStatus>('scheduler'),
  startScheduler: () => requestAPI<ISchedulerStatus>('scheduler', post({ action: 'start' }))
};
