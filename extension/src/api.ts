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

export type Row = Record<string, any>;

export interface IRun extends Row {
  run_id: string;
  run_name: string | null;
  status: string;
  start_time: string | null;
}
export interface IPrompt extends Row {
  name: string;
  latest: number | null;
  versions: number;
  aliases: string;
  updated: string;
  message: string;
}
export interface IPromptView extends Row {
  name: string;
  version: number;
  template: string;
  versions: [number, string, string[]][];
}
export interface IPromptDiff {
  name: string;
  a: number;
  b: number;
  text_a: string;
  text_b: string;
  lines: string[];
}
export interface IIndex extends Row {
  name: string;
  chunks: number | null;
  index: string;
  built: string;
}
export interface IMonitor {
  since: string;
  by: string;
  calls: number;
  summary: Row[];
  alerts: Row[];
  recent: Row[];
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

/** Call the API; resolve to its JSON, or reject with an ApiError. */
export async function requestAPI<T = any>(
  path: string,
  init: RequestInit = {},
  query: Record<string, string> = {}
): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const qs = new URLSearchParams(query).toString();
  const url = URLExt.join(settings.baseUrl, 'llmops', 'api', path) + (qs ? `?${qs}` : '');
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new ApiError(0, `the Jupyter server cannot be reached: ${error}`);
  }
  const text = await response.text();
  let data: any = text;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    // not JSON (e.g. the server's own 404 page)
  }
  if (!response.ok) {
    const message = (data && data.message) || response.statusText || `HTTP ${response.status}`;
    throw new ApiError(response.status, message, (data && data.hint) || '');
  }
  return data as T;
}

const post = (body: any = {}): RequestInit => ({ method: 'POST', body: JSON.stringify(body) });

export const api = {
  status: () => requestAPI<Row>('status'),
  runs: (experiment?: string) => requestAPI<IRun[]>('runs', {}, experiment ? { experiment } : {}),
  prompts: () => requestAPI<IPrompt[]>('prompts'),
  prompt: (name: string) => requestAPI<IPromptView>(`prompts/${encodeURIComponent(name)}`),
  diff: (name: string, v1: number, v2: number) =>
    requestAPI<IPromptDiff>(`prompts/${encodeURIComponent(name)}/diff`, {}, { v1: String(v1), v2: String(v2) }),
  indexes: () => requestAPI<IIndex[]>('indexes'),
  monitor: (since = '24h', by = 'model') => requestAPI<IMonitor>('monitor', {}, { since, by }),
  schedules: () => requestAPI<Row[]>('schedules'),
  addSchedule: (req: IScheduleRequest) => requestAPI<Row>('schedules', post(req)),
  removeSchedule: (name: string) => requestAPI<Row>(`schedules/${encodeURIComponent(name)}`, { method: 'DELETE' }),
  scheduleAction: (name: string, action: 'pause' | 'resume' | 'run') =>
    requestAPI<Row>(`schedules/${encodeURIComponent(name)}/${action}`, post()),
  history: (name: string) => requestAPI<Row[]>(`schedules/${encodeURIComponent(name)}/history`),
  scheduler: () => requestAPI<Row>('scheduler'),
  startScheduler: () => requestAPI<Row>('scheduler', post({ action: 'start' }))
};
