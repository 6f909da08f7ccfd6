// The fleet's side of the child process: runs a ScenarioFleet and answers the parent over IPC.
// Exits when the parent goes away, so a killed run never leaves agents behind.
import type { AgentSelector } from './model.js';
import { ScenarioFleet, type FleetAction, type FleetDriverOptions } from './fleet-driver.js';
import { fdsNeededForFleet, planFdLimit } from '../fleet/fd-limit.js';
import { totalAgents } from './model.js';

export type ParentMessage =
  | { type: 'start'; options: FleetDriverOptions }
  | { type: 'act'; id: number; kind: FleetAction; selector: AgentSelector }
  | { type: 'config-changed'; at: number; label: string }
  | { type: 'stop' };

export type ChildMessage =
  | { type: 'started'; t0: number }
  | { type: 'progress'; progress: ReturnType<ScenarioFleet['progress']> }
  | { type: 'acted'; id: number; result: string }
  | { type: 'stopped'; summary: Awaited<ReturnType<ScenarioFleet['stop']>> }
  | { type: 'error'; message: string };

const send = (m: ChildMessage): void => {
  if (process.connected) process.send!(m);
};

let fleet: ScenarioFleet | undefined;
let ticker: NodeJS.Timeout | undefined;

async function stop(): Promise<void> {
  if (ticker) clearInterval(ticker);
  const summary = await fleet?.stop();
  send({ type: 'stopped', summary });
  // Let the summary reach the parent before going.
  setTimeout(() => process.exit(0), 200).unref();
}

process.on('message', (m: ParentMessage) => {
  void (async () => {
    try {
      if (m.type === 'start') {
        // Refuse a fleet this process cannot hold sockets for, with the number, rather than fail
        // with EMFILE part-way (the run's own process, holding the embedded server's side of
        // every connection, has the same limit).
        const total = totalAgents(m.options.fleet);
        const workers = m.options.workers ?? m.options.fleet.workers ?? 1;
        const plan = planFdLimit(
          fdsNeededForFleet(total, workers + m.options.fleet.agents.length),
          `a fleet of ${total} agents`,
          'Raise the open-files limit of xdsim run (ulimit -n, LimitNOFILE=) or run fewer agents.',
          undefined,
          () => false,
        );
        if (plan.kind !== 'ok') throw new Error(plan.kind === 'refuse' ? plan.message : `${plan.needed} open files needed`);
        fleet = new ScenarioFleet(m.options);
        const t0 = await fleet.start();
        send({ type: 'started', t0 });
        ticker = setInterval(() => send({ type: 'progress', progress: fleet!.progress() }), 250);
      } else if (m.type === 'act') {
        const result = fleet ? await fleet.act(m.kind, m.selector) : 'fleet not started';
        send({ type: 'acted', id: m.id, result });
      } else if (m.type === 'config-changed') {
        fleet?.configChanged(m.at, m.label);
      } else if (m.type === 'stop') {
        await stop();
      }
    } catch (err) {
      send({ type: 'error', message: (err as Error).message ?? String(err) });
    }
  })();
});

// The parent died or closed the channel: stop the agents and leave.
process.on('disconnect', () => {
  void fleet?.stop().finally(() => process.exit(0));
  setTimeout(() => process.exit(1), 15_000).unref();
});
