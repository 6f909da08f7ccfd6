// `npm run peer:istiod -- <flags>`: builds the istiod peer (cached by source hash) and runs it in
// the foreground with the flags given, e.g.
//   npm run peer:istiod -- -f examples/mesh --xds-address 127.0.0.1:15010 --admin-address 127.0.0.1:15014
// `--help` lists the peer's flags. SIGINT/SIGTERM are passed on; the exit code is the peer's.
import { spawn } from 'node:child_process';
import { buildIstiodPeer } from './istiod-peer.js';

const bin = await buildIstiodPeer({ log: (line) => process.stderr.write(`${line}\n`) });
const child = spawn(bin, process.argv.slice(2), { stdio: 'inherit' });
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
