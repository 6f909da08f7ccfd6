// The config parser thread's side (see parse-thread.ts): takes one body at a time, parses and
// validates it exactly as the main thread would (prepareConfigRequest), and posts the outcome
// back. It holds no state between bodies and never touches the store.
import { parentPort } from 'node:worker_threads';
import { prepareConfigRequest, type ConfigRequestKind, type PreparedRequest, type YamlShapeLimits } from './config-requests.js';

export interface ParseJob {
  id: number;
  kind: ConfigRequestKind;
  text: string;
  limits: YamlShapeLimits;
}

export type ParseReply =
  | { id: number; ok: true; prepared: PreparedRequest }
  /** prepareConfigRequest threw something other than a YAML input error: a bug, answered as a 500. */
  | { id: number; ok: false; message: string; stack?: string };

const port = parentPort;
if (!port) throw new Error('parse-worker.ts runs on a worker thread');
port.on('message', (job: ParseJob) => {
  let reply: ParseReply;
  try {
    reply = { id: job.id, ok: true, prepared: prepareConfigRequest(job.kind, job.text, job.limits) };
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    reply = { id: job.id, ok: false, message: e.message, ...(e.stack ? { stack: e.stack } : {}) };
  }
  port.postMessage(reply);
});
