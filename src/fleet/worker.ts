// Piscina task: runs one fleet slice on this worker thread. The worker says `ready` once its
// modules are loaded and waits for `go` with the fleet's start time, so thread start-up (TypeScript
// compile, proto loading) does not eat into the ramp. Progress goes out and commands (stop, churn)
// come in over the MessagePort sent with the task; the task resolves with the slice's statistics
// once its agents are stopped.
import { threadId, type MessagePort } from 'node:worker_threads';
import type { FleetConfig } from './config.js';
import { AgentRunner, type RunnerCommand, type RunnerProgress, type RunnerResult } from './runner.js';
import type { ChangeWatch } from './propagation.js';

export interface WorkerTask {
  config: FleetConfig;
  indexes: number[];
  worker: number;
  port: MessagePort;
}

export type WorkerMessage =
  | { type: 'ready'; threadId: number }
  | { type: 'progress'; progress: RunnerProgress }
  /** Changes this worker's agents made that the others should watch for (propagation.ts). */
  | { type: 'watch'; watches: ChangeWatch[] };
export type MainMessage = { type: 'go'; startedAt: number } | RunnerCommand;

export default async function runWorker(task: WorkerTask): Promise<RunnerResult> {
  const runner = new AgentRunner(task.config, task.indexes, task.worker);
  // Prepared agents are built before `ready`: the fleet's clock starts once every worker is.
  if (task.config.prepare) runner.prepare();
  const { port } = task;
  runner.onWatch = (watches) => port.postMessage({ type: 'watch', watches } satisfies WorkerMessage);
  let tick: NodeJS.Timeout | undefined;
  const result = new Promise<RunnerResult>((resolve) => {
    let started = false;
    port.on('message', (m: MainMessage) => {
      if (m.type === 'go') {
        if (started) return;
        started = true;
        tick = setInterval(() => {
          port.postMessage({ type: 'progress', progress: runner.progress() } satisfies WorkerMessage);
        }, task.config.progressIntervalMs);
        resolve(runner.start(m.startedAt));
      } else if (m.type === 'stop' && !started) {
        started = true;
        resolve(runner.stop());
      } else {
        runner.command(m);
      }
    });
  });
  port.postMessage({ type: 'ready', threadId } satisfies WorkerMessage);
  try {
    return await result;
  } finally {
    if (tick) clearInterval(tick);
    port.close();
  }
}
