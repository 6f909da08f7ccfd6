#!/usr/bin/env python3
# A point-to-point link between two network namespaces, emulated in user space: one TUN device in
# each namespace, packets copied between them with per-direction delay, jitter, loss, rate and
# drop (partition). Used where the kernel has no sch_netem (this box: tc knows tbf and htb only).
# The TUN devices belong to this process: they vanish when it exits, however it exits.
#
#   linkemu.py <nsA> <devA> <nsB> <devB>
# prints "ready" once both devices exist; then reads commands on stdin, one per line:
#   set <ab|ba> <delay_ms> <jitter_ms> <loss_pct> <rate_bps: 0 = unlimited>
#   stats            -> one JSON line on stdout
# "ab" is A -> B. EOF on stdin ends it.
import ctypes, fcntl, heapq, json, os, random, select, struct, sys, time

CLONE_NEWNET = 0x40000000
TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
libc = ctypes.CDLL(None, use_errno=True)


def open_tun(ns, name):
    home = os.open('/proc/self/ns/net', os.O_RDONLY)
    target = os.open(f'/var/run/netns/{ns}', os.O_RDONLY)
    try:
        if libc.setns(target, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f'setns {ns}')
        fd = os.open('/dev/net/tun', os.O_RDWR | os.O_NONBLOCK)
        fcntl.ioctl(fd, TUNSETIFF, struct.pack('16sH', name.encode(), IFF_TUN | IFF_NO_PI))
        return fd
    finally:
        libc.setns(home, CLONE_NEWNET)
        os.close(home)
        os.close(target)


class Direction:
    def __init__(self, out_fd):
        self.out = out_fd
        self.delay = 0.0
        self.jitter = 0.0
        self.loss = 0.0
        self.rate = 0.0  # bits/s, 0 = unlimited
        self.tx_free = 0.0  # when the "wire" is free again (rate limit)
        self.last = 0.0  # last departure: jitter never reorders (like netem with rate)
        self.queued = 0
        self.stats = {'in': 0, 'out': 0, 'lost': 0, 'overflow': 0, 'writeFailed': 0}

    def admit(self, pkt, now, heap, seq):
        self.stats['in'] += 1
        if self.loss >= 100 or (self.loss > 0 and random.random() * 100 < self.loss):
            self.stats['lost'] += 1
            return
        t = now
        if self.rate > 0:
            start = max(now, self.tx_free)
            # A queue of 2 s at the link rate, then tail drop (a router's buffer, not infinite).
            if start - now > 2.0:
                self.stats['overflow'] += 1
                return
            self.tx_free = start + len(pkt) * 8 / self.rate
            t = self.tx_free
        d = self.delay + (random.gauss(0, self.jitter) if self.jitter > 0 else 0)
        t = max(t + max(d, 0), self.last)
        self.last = t
        self.queued += 1
        heapq.heappush(heap, (t, seq, self, pkt))


def main():
    ns_a, dev_a, ns_b, dev_b = sys.argv[1:5]
    fa = open_tun(ns_a, dev_a)
    fb = open_tun(ns_b, dev_b)
    dirs = {'ab': Direction(fb), 'ba': Direction(fa)}
    src = {fa: dirs['ab'], fb: dirs['ba']}
    sys.stdout.write('ready\n')
    sys.stdout.flush()
    stdin = sys.stdin.fileno()
    os.set_blocking(stdin, False)
    buf = b''
    heap = []
    seq = 0
    while True:
        now = time.monotonic()
        timeout = max(0.0, heap[0][0] - now) if heap else 1.0
        r, _, _ = select.select([fa, fb, stdin], [], [], timeout)
        now = time.monotonic()
        for fd in r:
            if fd == stdin:
                chunk = os.read(stdin, 65536)
                if not chunk:
                    return
                buf += chunk
                while b'\n' in buf:
                    line, buf = buf.split(b'\n', 1)
                    parts = line.decode().split()
                    if not parts:
                        continue
                    if parts[0] == 'set':
                        d = dirs[parts[1]]
                        d.delay = float(parts[2]) / 1000
                        d.jitter = float(parts[3]) / 1000
                        d.loss = float(parts[4])
                        d.rate = float(parts[5])
                        sys.stdout.write('ok\n')
                    elif parts[0] == 'stats':
                        sys.stdout.write(json.dumps({k: v.stats for k, v in dirs.items()}) + '\n')
                    sys.stdout.flush()
                continue
            d = src[fd]
            for _ in range(256):  # bounded per wake-up so the other side and the clock get turns
                try:
                    pkt = os.read(fd, 65536)
                except BlockingIOError:
                    break
                seq += 1
                d.admit(pkt, now, heap, seq)
        now = time.monotonic()
        while heap and heap[0][0] <= now:
            _, _, d, pkt = heapq.heappop(heap)
            d.queued -= 1
            try:
                os.write(d.out, pkt)
                d.stats['out'] += 1
            except OSError:
                # The far device not up yet (first packets while the link is configured).
                d.stats['writeFailed'] += 1


if __name__ == '__main__':
    try:
        main()
    except KeyboardInterrupt:
        pass
