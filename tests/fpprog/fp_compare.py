#!/usr/bin/env python3
"""Runs the floating-point program natively and as a guest under hayate and
compares their RES/TRAP/NOTRAP/DONE lines: results, which cases trapped, and
the signal codes must all be the same.

usage: fp_compare.py NATIVE HAYATE GUEST.elf
"""
import subprocess
import sys

native, hayate, guest = sys.argv[1:4]
KEEP = ('RES ', 'TRAP ', 'NOTRAP ', 'DONE')


def lines(text):
    return [l.strip() for l in text.splitlines() if l.strip().startswith(KEEP)]


n = subprocess.run([native], capture_output=True, text=True, timeout=60)
g = subprocess.run([hayate, '-nographic', '-no-reboot', '-m', '64', '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04',
                    '-kernel', guest], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
a, b = lines(n.stdout), lines(g.stdout)
if not a or a[-1] != 'DONE':
    print('native run did not finish:\n' + n.stdout + n.stderr)
    sys.exit(1)
bad = 0
for i in range(max(len(a), len(b))):
    x = a[i] if i < len(a) else '(nothing)'
    y = b[i] if i < len(b) else '(nothing)'
    if x != y:
        bad += 1
        if bad <= 20:
            print('line %d differs:\n  native: %s\n  hayate: %s' % (i + 1, x, y))
traps = sum(1 for l in a if l.startswith('TRAP '))
print('%d lines compared (%d results, %d traps), %d differ' % (len(a), sum(1 for l in a if l.startswith('RES ')), traps, bad))
if bad:
    print('hayate stderr:\n' + g.stderr[-3000:])
sys.exit(1 if bad else 0)
