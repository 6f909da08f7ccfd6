// Child of netns.test.ts: builds a network, starts a process inside it, then dies by SIGKILL
// (no afterAll, no exit hooks) - what a crashed test run leaves behind.
import { Net } from './netns.js';

const n = await Net.create(1);
n.spawnIn(n.cp, [process.execPath, '-e', 'setInterval(() => {}, 1000)']);
process.stdout.write(`${JSON.stringify({ cp: n.cp, fleet: n.link(1).ns })}\n`);
process.kill(process.pid, 'SIGKILL');
