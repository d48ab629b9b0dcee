#!/usr/bin/env python3
"""Command-line tests of the hayate binary: every bad input ends with a
one-line message naming the problem and status 1; --help and --version end
with status 0; and small kernels of each format boot (ELF32, ELF64 with a
higher-half entry, a.out kludge with modules, the demo guest).

usage: cli_test.py HAYATE DEMO_GUEST VERSION

Output is TAP, so meson counts and names each case.
"""
import os
import shutil
import struct
import subprocess
import sys
import tempfile

HAYATE, DEMO, VERSION = sys.argv[1:4]
TMP = tempfile.mkdtemp(prefix='hayate-cli-')
# -no-reboot: a kernel that crashes ends the run (status 0) instead of rebooting forever.
DEBUG_EXIT = ['-no-reboot', '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04']
results = []


def run(args, timeout=20, prefix=()):
    try:
        p = subprocess.run(list(prefix) + [HAYATE] + args, stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=timeout)
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b'').decode(errors='replace')
        return None, out, 'timed out after %ds' % timeout
    return p.returncode, p.stdout.decode(errors='replace'), p.stderr.decode(errors='replace')


def check(name, args, status, stdout=(), stderr=(), timeout=20, prefix=()):
    """Runs hayate; the case passes if the status matches and each expected
    text appears in stdout/stderr."""
    code, out, err = run(args, timeout, prefix)
    problems = []
    if code != status:
        problems.append('status %s, expected %d' % (code, status))
    for text in stdout:
        if text not in out:
            problems.append('stdout lacks %r' % text)
    for text in stderr:
        if text not in err:
            problems.append('stderr lacks %r' % text)
    if status == 1 and code == 1 and stderr:
        # An error is one line on stderr, prefixed like every hayate message.
        lines = err.strip().splitlines()
        if len(lines) != 1 or not lines[0].startswith('hayate: '):
            problems.append('error is not one "hayate: ..." line')
    results.append((name, problems, args, out, err))


def skip(name, reason):
    results.append((name, None, reason, '', ''))


def write(name, data):
    path = os.path.join(TMP, name)
    with open(path, 'wb') as f:
        f.write(data)
    return path


# --- tiny kernels -----------------------------------------------------------

MB_MAGIC = 0x1BADB002


def mb_header(flags, fields=b''):
    return struct.pack('<III', MB_MAGIC, flags, (-(MB_MAGIC + flags)) & 0xffffffff) + fields


def exit_code(value):
    """32-bit code: out 0xf4, value; then hlt forever."""
    return bytes([0xb0, value, 0xe6, 0xf4, 0xf4, 0xeb, 0xfd])


# Checks EAX holds the multiboot magic, then exits with 0x21 (status 67);
# with the wrong magic it exits with 0x22 (status 69).
CHECK_MAGIC = bytes([0x3d]) + struct.pack('<I', 0x2BADB002) + bytes([0x75, 0x07]) + exit_code(0x21) + exit_code(0x22)


def elf32(code, paddr=0x100000, vaddr=None, phoff=None, extra_phdrs=0):
    """An ELF32 executable with one PT_LOAD segment holding a multiboot header and code."""
    vaddr = paddr if vaddr is None else vaddr
    body = mb_header(0) + code
    ehsize, phentsize = 52, 32
    data_off = 0x1000
    entry = vaddr + 12
    real_phoff = ehsize if phoff is None else phoff
    eh = b'\x7fELF' + bytes([1, 1, 1]) + bytes(9)
    eh += struct.pack('<HHIIIIIHHHHHH', 2, 3, 1, entry, real_phoff, 0, 0, ehsize, phentsize, 1 + extra_phdrs,
                      40, 0, 0)
    ph = struct.pack('<IIIIIIII', 1, data_off, vaddr, paddr, len(body), len(body) + 0x100, 7, 0x1000)
    img = bytearray(eh + ph)
    img += bytes(data_off - len(img))
    # The multiboot header must be in the first 8 KiB: the segment starts at 4 KiB.
    img += body
    return bytes(img)


def elf64(code, paddr=0x100000, vaddr=0xffffffff80100000):
    """An ELF64 executable (32-bit entry code), linked to a higher-half address."""
    body = mb_header(0) + code
    ehsize, phentsize = 64, 56
    data_off = 0x1000
    eh = b'\x7fELF' + bytes([2, 1, 1]) + bytes(9)
    eh += struct.pack('<HHIQQQIHHHHHH', 2, 62, 1, vaddr + 12, ehsize, 0, 0, ehsize, phentsize, 1, 64, 0, 0)
    ph = struct.pack('<IIQQQQQQ', 1, 7, data_off, vaddr, paddr, len(body), len(body), 0x1000)
    img = bytearray(eh + ph)
    img += bytes(data_off - len(img))
    img += body
    return bytes(img)


def kludge(code, load=0x100000, flags=0x10000, load_end=None, bss_end=0):
    """An a.out-kludge image: multiboot header with address fields, then code."""
    hdr_len = 32
    total = hdr_len + len(code)
    end = load + total if load_end is None else load_end
    fields = struct.pack('<IIIII', load, load, end, bss_end, load + hdr_len)
    return mb_header(flags, fields) + code


# Reads mods_count (must be 2) and the first byte of module 1, and exits with
# that byte; any mismatch exits with 0x7f.
MODULES_CODE = bytes([
    0x83, 0x7b, 0x14, 0x02,              # cmp dword [ebx+20], 2
    0x75, 0x0c,                          # jne fail
    0x8b, 0x73, 0x18,                    # mov esi, [ebx+24]
    0x8b, 0x16,                          # mov edx, [esi]
    0x8a, 0x02,                          # mov al, [edx]
    0xe6, 0xf4,                          # out 0xf4, al
    0xf4, 0xeb, 0xfd,                    # hlt; jmp $-1
]) + exit_code(0x7f)                     # fail:


# --- cases ------------------------------------------------------------------

def main():
    check('--help', ['--help'], 0, stdout=['Usage: hayate', '-kernel'])
    check('-h', ['-h'], 0, stdout=['Usage: hayate'])
    check('--version', ['--version'], 0, stdout=['hayate ' + VERSION])
    check('-version', ['-version'], 0, stdout=['hayate ' + VERSION])
    check('-d help', ['-d', 'help'], 0, stdout=['guest_errors'])
    check('-device help', ['-device', 'help'], 0, stdout=['isa-debug-exit'])

    check('no arguments', [], 1, stderr=['no -kernel given'])
    check('unknown option', ['-bogus-option'], 1, stderr=['-bogus-option: unknown option'])
    check('unknown option, two dashes', ['--frobnicate'], 1, stderr=['--frobnicate: unknown option'])
    check('positional argument', ['disk.img'], 1, stderr=["'disk.img': disk images are not supported"])
    check('missing value', ['-kernel', DEMO, '-m'], 1, stderr=['-m: requires an argument'])
    check('-accel foo', ['-accel', 'foo', '-kernel', DEMO], 1, stderr=['-accel foo: unknown accelerator'])
    check('-accel kvm', ['-accel', 'kvm', '-kernel', DEMO], 1, stderr=['-accel kvm: not supported yet'])
    check('-serial bogus', ['-serial', 'bogus', '-kernel', DEMO], 1,
          stderr=['-serial bogus: unsupported serial backend'])
    check('five -serial', ['-serial', 'null'] * 5 + ['-kernel', DEMO], 1, stderr=['at most 4 serial ports'])
    check('-device foo', ['-device', 'foo', '-kernel', DEMO], 1, stderr=['-device foo: unknown device'])
    check('-device bad property', ['-device', 'isa-debug-exit,color=red', '-kernel', DEMO], 1,
          stderr=["no property 'color'"])
    check('-device bad iobase', ['-device', 'isa-debug-exit,iobase=0x10000', '-kernel', DEMO], 1,
          stderr=['outside the 64 KiB I/O space'])
    check('-display sdl', ['-display', 'sdl', '-kernel', DEMO], 1, stderr=['-display sdl: not supported'])
    check('-d bogus', ['-d', 'bogus', '-kernel', DEMO], 1, stderr=["unknown log category 'bogus'"])
    check('-m 0', ['-m', '0', '-kernel', DEMO], 1, stderr=['must not be zero'])
    check('-m 2000G', ['-m', '2000G', '-kernel', DEMO], 1, stderr=['-m 2000G', 'at most 1 TiB'])
    check('-m junk', ['-m', '12X', '-kernel', DEMO], 1, stderr=["'12X' is not a size"])
    check('-m maxmem', ['-m', '64,maxmem=1G', '-kernel', DEMO], 1, stderr=["'maxmem' is not supported"])

    check('missing kernel file', ['-kernel', '/nonexistent/kernel'], 1,
          stderr=['/nonexistent/kernel: cannot open: No such file or directory'])
    check('kernel is a directory', ['-kernel', TMP], 1, stderr=[TMP + ': not a regular file'])
    unreadable = write('unreadable', b'x' * 64)
    os.chmod(unreadable, 0)
    if os.geteuid() != 0:
        check('unreadable kernel', ['-kernel', unreadable], 1, stderr=[unreadable + ': cannot open: Permission denied'])
    elif shutil.which('setpriv') and os.access(HAYATE, os.X_OK):
        # root reads any file: run hayate as nobody, if nobody can reach it.
        probe = subprocess.run(['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', HAYATE, '--version'],
                               capture_output=True)
        if probe.returncode == 0:
            check('unreadable kernel', ['-kernel', unreadable], 1,
                  stderr=[unreadable + ': cannot open: Permission denied'],
                  prefix=['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'])
        else:
            skip('unreadable kernel', 'running as root and the build is not reachable as nobody')
    else:
        skip('unreadable kernel', 'running as root without setpriv')

    fmt_msg = 'not a kernel format hayate can load'
    check('empty kernel', ['-kernel', write('empty', b'')], 1, stderr=[fmt_msg, 'empty'])
    check('random bytes', ['-kernel', write('random', os.urandom(20000).replace(b'\x02\xb0\xad\x1b', b'xxxx'))],
          1, stderr=[fmt_msg])
    bad_sum = struct.pack('<III', MB_MAGIC, 0, 12345) + bytes(100)
    check('bad checksum', ['-kernel', write('badsum', bad_sum)], 1, stderr=[fmt_msg, 'bad checksum'])
    def bzimage(version=0x020f, payload=0x1000, syssize=None, init_size=0x100000, loadflags=1, cmdline_size=2047):
        """A bzImage with one setup sector whose payload is `payload` bytes of HLT."""
        bz = bytearray(0x400)
        bz[0x1f1] = 1  # setup_sects
        bz[0x1fe:0x200] = b'\x55\xaa'
        bz[0x200:0x202] = b'\xeb\x66'  # jmp over the header: it ends at 0x268
        bz[0x202:0x206] = b'HdrS'
        struct.pack_into('<H', bz, 0x206, version)
        struct.pack_into('<I', bz, 0x1f4, (payload + 15) // 16 if syssize is None else syssize)
        bz[0x211] = loadflags
        struct.pack_into('<I', bz, 0x22c, 0x7fffffff)  # initrd_addr_max
        struct.pack_into('<I', bz, 0x238, cmdline_size)
        struct.pack_into('<I', bz, 0x260, init_size)
        return bytes(bz) + b'\xf4' * payload

    check('bzImage too old', ['-kernel', write('bz-old', bzimage(version=0x0202))], 1,
          stderr=['bz-old', 'boot protocol 2.02 is too old'])
    check('zImage', ['-kernel', write('bz-low', bzimage(loadflags=0))], 1, stderr=['bz-low', 'zImage'])
    check('bzImage truncated', ['-kernel', write('bz-trunc', bzimage(syssize=0x1000))], 1,
          stderr=['bz-trunc', 'truncated'])
    check('bzImage -m too small', ['-m', '16', '-kernel', write('bz-big', bzimage(init_size=64 << 20))], 1,
          stderr=['bz-big', 'give more memory with -m'])
    check('bzImage initrd missing', ['-kernel', write('bz', bzimage()), '-initrd', '/nonexistent/initrd'], 1,
          stderr=['/nonexistent/initrd'])
    check('bzImage initrd empty', ['-kernel', write('bz', bzimage()), '-initrd', write('empty-initrd', b'')], 1,
          stderr=['empty-initrd', 'empty'])
    check('bzImage initrd too big', ['-m', '8', '-kernel', write('bz', bzimage()),
                                     '-initrd', write('big-initrd', bytes(12 << 20))], 1,
          stderr=['big-initrd', 'does not fit'])
    check('bzImage command line too long', ['-kernel', write('bz-cmd', bzimage(cmdline_size=16)),
                                            '-append', 'x' * 17], 1, stderr=['bz-cmd', 'command line'])
    good = elf32(CHECK_MAGIC)
    check('truncated ELF', ['-kernel', write('truncated.elf', good[:0x1010])], 1,
          stderr=['runs past the end of the file'])
    check('ELF phdrs past end', ['-kernel', write('phoff.elf', elf32(CHECK_MAGIC, phoff=0x100000))], 1,
          stderr=['program headers', 'past the end of the file'])
    check('ELF beyond RAM', ['-m', '16', '-kernel', write('high.elf', elf32(CHECK_MAGIC, paddr=0x2000000))], 1,
          stderr=['does not fit in guest RAM'])
    check('multiboot not ELF', ['-kernel', write('noaddr', mb_header(0) + bytes(64))], 1,
          stderr=['the file is not ELF'])
    check('kludge load_end past EOF',
          ['-kernel', write('kludge-eof', kludge(exit_code(1), load_end=0x200000))], 1,
          stderr=['load_end_addr 0x200000 is past the end of the file'])
    check('kludge video mode', ['-kernel', write('video', kludge(exit_code(1), flags=0x10004))], 1,
          stderr=['video mode'])
    check('missing module', ['-kernel', write('modk', kludge(MODULES_CODE)), '-initrd', '/nonexistent/mod'], 1,
          stderr=['/nonexistent/mod: cannot open'])
    check('-serial file: bad path', ['-serial', 'file:/nonexistent/dir/out', '-kernel', DEMO], 1,
          stderr=['/nonexistent/dir/out'])
    check('-D bad path', ['-D', '/nonexistent/dir/log', '-kernel', DEMO], 1, stderr=['/nonexistent/dir/log'])

    # --- kernels that run (need the CPU core) ---
    check('demo guest', ['-nographic', '-m', '64'] + DEBUG_EXIT + ['-kernel', DEMO, '-append', 'hello world'], 1,
          stdout=['Hello from the Hayate demo guest!', 'boot loader:  hayate',
                  'command line: %s hello world' % DEMO, 'memory:       639 KiB low, 64 MiB in all', 'CPU vendor:',
                  'Goodbye'])
    check('ELF32 kernel', DEBUG_EXIT + ['-kernel', write('k32.elf', elf32(CHECK_MAGIC))], 67)
    # LIDT with limit 0, then UD2: #UD, #GP and #DF all find no gate, so the
    # CPU shuts down. Under -no-reboot that is status 2 with a CPU dump.
    idtr_addr = 0x100000 + 12 + 9
    triple = bytes([0x0f, 0x01, 0x1d]) + struct.pack('<I', idtr_addr) + bytes([0x0f, 0x0b]) + bytes(6)
    check('triple fault ends with status 2', DEBUG_EXIT + ['-kernel', write('triple.elf', elf32(triple))], 2,
          stderr=['triple fault', 'CR0='])
    check('ELF64 higher-half kernel', DEBUG_EXIT + ['-kernel', write('k64.elf', elf64(CHECK_MAGIC))], 67)
    mod1, mod2 = write('mod1', b'\x30module one'), write('mod2', b'second')
    check('kludge kernel with modules',
          DEBUG_EXIT + ['-kernel', write('modk', kludge(MODULES_CODE)), '-initrd', '%s arg1,%s' % (mod1, mod2)], 0x61)
    check('-serial file', ['-serial', 'file:' + os.path.join(TMP, 'com1.txt')] + DEBUG_EXIT + ['-kernel', DEMO], 1)
    with open(os.path.join(TMP, 'com1.txt'), errors='replace') as f:
        com1 = f.read()
    results.append(('-serial file output', [] if 'Hello from the Hayate demo guest!' in com1 else
                    ['COM1 file lacks the greeting: %r' % com1[:200]], [], '', ''))

    print('1..%d' % len(results))
    failed = 0
    for n, (name, problems, args, out, err) in enumerate(results, 1):
        if problems is None:
            print('ok %d - %s # SKIP %s' % (n, name, args))
        elif problems:
            failed += 1
            print('not ok %d - %s' % (n, name))
            print('#   hayate %s' % ' '.join(args))
            for p in problems:
                print('#   ' + p)
            for label, text in (('stdout', out), ('stderr', err)):
                for line in text.strip().splitlines()[:20]:
                    print('#   %s: %s' % (label, line))
        else:
            print('ok %d - %s' % (n, name))
    shutil.rmtree(TMP, ignore_errors=True)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
