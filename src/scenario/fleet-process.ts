// The fleet in a child process. A run with 10,000 agents holds 10,000 client sockets besides
// the server's 10,000; one process would hit the open-files limit, and it would also charge
// the agents' CPU and memory to the control plane. In a child, the server's numbers are its own.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { FleetSummary } from '../fleet/summary.js';
import type { ChildMessage, ParentMessage } from './fleet-child.js';
import type { FleetAction, FleetDriver, FleetDriverOptions, FleetDriverProgress } from './fleet-driver.js';
import type { AgentSelector } from './model.js';

const ENTRY = fileURLToPath(new URL('./fleet-child-entry.mjs', import.meta.url));

export class ChildProcessFleet implements FleetDriver {
  private child: ChildProcess | undefined;
  private last: FleetDriverProgress;
  private seq = 0;
  private readonly pending = new Map<number, (result: string) => void>();
  private stopped: Promise<FleetSummary | undefined> | undefined;
  private onStopped: ((s: FleetSummary | undefined) => void) | undefined;
  private exitError: string | undefined;
  private deathListener: ((why: string) => void) | undefined;
  private stopping = false;

  constructor(private readonly options: FleetDriverOptions) {
    this.last = { target: options.fleet.agents.reduce((n, a) => n + a.count, 0), started: 0, connected: 0, visible: 0, failed: 0, errors: 0 };
  }

  start(): Promise<number> {
    return new Promise((resolve, reject) => {
      // The child's stdout goes to our stderr: our stdout carries the report.
      const child = fork(ENTRY, [], { execArgv: [], stdio: ['ignore', 'pipe', 'inherit', 'ipc'], serialization: 'advanced' });
      this.child = child;
      child.stdout?.pipe(process.stderr);
      const timer = setTimeout(() => reject(new Error('fleet process did not start within 90s')), 90_000);
      timer.unref();
      child.on('message', (m: ChildMessage) => {
        switch (m.type) {
          case 'started':
            clearTimeout(timer);
            resolve(m.t0);
            break;
          case 'progress':
            this.last = m.progress;
            break;
          case 'acted':
            this.pending.get(m.id)?.(m.result);
            this.pending.delete(m.id);
            break;
          case 'stopped':
            this.onStopped?.(m.summary);
            break;
          case 'error':
            clearTimeout(timer);
            reject(new Error(`fleet: ${m.message}`));
            break;
        }
      });
      child.on('exit', (code, signal) => {
        clearTimeout(timer);
        this.exitError = `fleet process exited (${signal ?? `code ${code}`})`;
        reject(new Error(this.exitError));
        for (const r of this.pending.values()) r(`failed: ${this.exitError}`);
        this.pending.clear();
        this.onStopped?.(undefined);
        if (!this.stopping) this.deathListener?.(this.exitError);
      });
      this.send({ type: 'start', options: this.options });
    });
  }

  private send(m: ParentMessage): void {
    if (this.child?.connected) this.child.send(m);
  }

  progress(): FleetDriverProgress {
    return this.last;
  }

  act(kind: FleetAction, selector: AgentSelector): Promise<string> {
    if (!this.child?.connected) return Promise.resolve(`failed: ${this.exitError ?? 'fleet not running'}`);
    const id = ++this.seq;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.send({ type: 'act', id, kind, selector });
    });
  }

  configChanged(at: number, label: string): void {
    this.send({ type: 'config-changed', at, label });
  }

  onDeath(cb: (why: string) => void): void {
    this.deathListener = cb;
  }

  stop(): Promise<FleetSummary | undefined> {
    this.stopping = true;
    this.stopped ??= new Promise<FleetSummary | undefined>((resolve) => {
      const child = this.child;
      if (!child || child.exitCode !== null || !child.connected) return resolve(undefined);
      // Bounded: agents stop at once; a child that does not answer in 30 s is killed.
      const kill = setTimeout(() => {
        child.kill('SIGKILL');
        resolve(undefined);
      }, 30_000);
      kill.unref();
      this.onStopped = (s) => {
        clearTimeout(kill);
        resolve(s);
      };
      this.send({ type: 'stop' });
    });
    return this.stopped;
  }
}
