// The network library itself: a link's delay and loss are what TCP sees, a partition drops one
// direction only, and a crashed run's namespaces are removed by the next one.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { say } from './hosts.js';
import { Net, netnsUnavailable, removeLeftovers } from './netns.js';

const unavailable = netnsUnavailable();
if (unavailable && process.env['XDSIM_REQUIRE_NETNS'] === '1') throw new Error(`XDSIM_REQUIRE_NETNS=1 but ${unavailable}`);

/** TCP connect times (ms) from namespace `ns` to ip:port, `n` tries, each bounded by 2 s. */
function connectTimes(net: Net, ns: string, ip: string, port: number, n: number): (number | string)[] {
  const js = `const net=require('net');const out=[];let i=0;const go=()=>{if(i++>=${n}){console.log(JSON.stringify(out));return;}const t=process.hrtime.bigint();const s=net.connect({port:${port},host:'${ip}',timeout:2000});s.on('connect',()=>{out.push(Number(process.hrtime.bigint()-t)/1e6);s.destroy();go();});s.on('timeout',()=>{out.push('timeout');s.destroy();go();});s.on('error',e=>{out.push(e.code);go();});};go();`;
  return JSON.parse(net.nsRun(ns, [process.execPath, '-e', js])) as (number | string)[];
}

let net: Net | undefined;
afterAll(() => {
  net?.destroy();
  if (net) expect(net.leftovers()).toEqual([]);
});

describe.skipIf(!!unavailable)('netns library', () => {
  it('shapes RTT, drops one direction, and cleans up', { timeout: 60_000 }, async () => {
    net = await Net.create(1);
    const l = net.link(1);
    net.spawnIn(net.cp, [process.execPath, '-e', `require('net').createServer((s) => s.end()).listen(7001, '0.0.0.0')`]);
    await new Promise((r) => setTimeout(r, 500));
    const plain = connectTimes(net, l.ns, l.serverIp, 7001, 10).filter((x): x is number => typeof x === 'number');
    await net.shape(1, { delayMs: 30 });
    const shaped = connectTimes(net, l.ns, l.serverIp, 7001, 10).filter((x): x is number => typeof x === 'number');
    // A SYN/SYN-ACK exchange is one round trip: 2 x 30 ms.
    const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
    await net.shapeDir(1, 'down', { lossPct: 100 });
    const cut = connectTimes(net, l.ns, l.serverIp, 7001, 2);
    const stats = await net.stats(1);
    await net.shape(1, {});
    // Link down (not a black hole): the fleet side fails at once, locally.
    net.setLink(1, false);
    const down = connectTimes(net, l.ns, l.serverIp, 7001, 1);
    net.setLink(1, true);
    const upAgain = connectTimes(net, l.ns, l.serverIp, 7001, 1);
    say('netns-link', { connectMedianMs: { plain: +median(plain).toFixed(1), delay30msEachWay: +median(shaped).toFixed(1) }, downCut: cut, linkDown: down, linkUpAgain: upAgain, packets: stats });
    expect(typeof down[0]).toBe('string');
    expect(down[0]).not.toBe('timeout');
    expect(typeof upAgain[0]).toBe('number');
    expect(plain.length).toBe(10);
    expect(median(shaped)).toBeGreaterThanOrEqual(58);
    expect(median(shaped)).toBeLessThan(200);
    expect(cut).toEqual(['timeout', 'timeout']);
    // The SYNs went up; what came back down was dropped.
    expect(stats.down.lost).toBeGreaterThan(0);
    net.destroy();
    expect(net.leftovers()).toEqual([]);
  });

  it('removes what a crashed run left', { timeout: 60_000 }, () => {
    const fixture = fileURLToPath(new URL('./crash-fixture.ts', import.meta.url));
    const r = spawnSync(process.execPath, ['--import', 'tsx', fixture], { encoding: 'utf8', timeout: 30_000 });
    expect(r.signal).toBe('SIGKILL');
    const left = JSON.parse(r.stdout.trim()) as { cp: string; fleet: string };
    expect(existsSync(`/var/run/netns/${left.cp}`)).toBe(true);
    const removed = removeLeftovers();
    say('netns-leftovers', { removed });
    expect(removed).toEqual(expect.arrayContaining([left.cp, left.fleet]));
    expect(existsSync(`/var/run/netns/${left.cp}`)).toBe(false);
    expect(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })).not.toContain(left.cp);
  });
});
