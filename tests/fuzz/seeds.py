#!/usr/bin/env python3
# Writes the hand-made seed inputs of tests/fuzz/corpus/ (the rest of each corpus came from
# fuzzing, minimised with -merge=1). Layouts follow include/gma/record.h and the targets'
# input formats described at the top of each fuzz_X.c.
import os, struct

here = os.path.dirname(os.path.abspath(__file__))

def put(target, name, data):
    d = os.path.join(here, 'corpus', target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, 'seed-' + name), 'wb') as f:
        f.write(data)

# mmio: 7 bytes per access: u16 offset, u8 write, u32 value
def acc(off, val, write):
    return struct.pack('<HBI', off, 1 if write else 0, val)
modern = [acc(0x0, 0x74726976, 0), acc(0x4, 2, 0), acc(0x8, 2, 0), acc(0x70, 0, 1),
          acc(0x70, 1, 1), acc(0x70, 3, 1), acc(0x24, 1, 1), acc(0x20, 1, 1), acc(0x24, 0, 1),
          acc(0x20, 1 << 28, 1), acc(0x70, 11, 1), acc(0x30, 0, 1), acc(0x38, 16, 1),
          acc(0x80, 0x31000, 1), acc(0x84, 0, 1), acc(0x90, 0x31100, 1), acc(0x94, 0, 1),
          acc(0xa0, 0x31200, 1), acc(0xa4, 0, 1), acc(0x44, 1, 1), acc(0x70, 15, 1),
          acc(0x50, 0, 1), acc(0x60, 1, 0), acc(0x64, 1, 1), acc(0x70, 0, 1)]
put('mmio', 'modern', b''.join(modern))
legacy = [acc(0x0, 0x74726976, 0), acc(0x4, 1, 0), acc(0x28, 4096, 1), acc(0x30, 1, 1),
          acc(0x38, 8, 1), acc(0x3c, 4096, 1), acc(0x40, 0x34, 1), acc(0x50, 1, 1),
          acc(0x40, 0, 1)]
put('mmio', 'legacy', b''.join(legacy))

# pci: 16 bytes per access: u8 op (bit 7: write), u8 width, u16 offset, u32 value, u64 address
def pacc(op, width, off, val, addr=0, write=False):
    return struct.pack('<BBHIQ', op | (0x80 if write else 0), width, off, val, addr)
q35 = [pacc(1, 4, 0, 0x29c08086), pacc(1, 4, 0x64, 0, write=True),
       pacc(1, 4, 0x60, 0xb0000001, write=True),
       pacc(2, 4, 0, 0, 0x18000), pacc(2, 2, 0x6, 0, 0x1010), pacc(2, 4, 0, 0, 0x100100),
       pacc(0, 4, 0, 0x10421af4), pacc(0, 2, 6, 0x10), pacc(0, 4, 0x10, 0xffffffff, write=True),
       pacc(0, 4, 0x10, 0xffffc000), pacc(0, 4, 0x10, 0xe0000000, write=True),
       pacc(0, 2, 4, 2, write=True), pacc(0, 1, 0x34, 0x40), pacc(0, 4, 0x40, 0x01100009),
       pacc(0, 4, 0x44, 0), pacc(0, 4, 0x48, 0), pacc(0, 4, 0x4c, 0x38),
       pacc(4, 2, 0x16, 0, write=True), pacc(4, 2, 0x18, 16, write=True),
       pacc(4, 4, 0x20, 0x31000, write=True), pacc(4, 2, 0x1e, 0), pacc(4, 2, 0x1c, 1, write=True),
       pacc(3, 4, 0, 16, 0xc0001000), pacc(6, 0, 0, 0, 0)]
put('pci', 'q35', b''.join(q35))
legacy_pci = [pacc(5, 2, 14, 1, write=True), pacc(5, 2, 12, 256), pacc(5, 4, 8, 0x12, write=True),
              pacc(5, 2, 16, 1, write=True), pacc(1, 2, 0, 0x8086), pacc(1, 2, 2, 0x29c0),
              pacc(1, 1, 0x60, 0x05, write=True), pacc(2, 1, 0xff, 0, 0xfffffff)]
put('pci', 'legacy', b''.join(legacy_pci))

# ring: 32-byte header (desc, driver, device, num u16, flags, snap u16, max_chains, mode),
# then guest memory from gpa 0
def ring_seed(indirect):
    hdr = struct.pack('<QQQHBHBB', 0x1000, 0x1100, 0x1200, 16, 0, 64, 0, 0)
    mem = bytearray(0x3000)
    def desc(i, addr, ln, flags, nxt, base=0x1000):
        struct.pack_into('<QIHH', mem, base + 16 * i, addr, ln, flags, nxt)
    if indirect:
        desc(0, 0x2000, 48, 4, 0)
        desc(0, 0x2100, 16, 1, 1, base=0x2000)
        desc(1, 0x2200, 512, 3, 2, base=0x2000)
        desc(2, 0x2400, 1, 2, 0, base=0x2000)
    else:
        desc(0, 0x2100, 16, 1, 1)
        desc(1, 0x5f00, 512, 3, 2)  # crosses into the next region
        desc(2, 0x2400, 1, 2, 0)
    struct.pack_into('<HHH', mem, 0x1100, 0, 1, 0)  # avail flags, idx 1, ring[0] = 0
    struct.pack_into('<HH', mem, 0x1200, 0, 0)      # used flags, idx 0
    return hdr + bytes(mem)
put('ring', 'direct', ring_seed(False))
put('ring', 'indirect', ring_seed(True))

# accessor: n, then per region (gpa u32, shift u8, size u16, odd u8), then ops
def region(gpa, size):
    return struct.pack('<IBHB', gpa, 0, size, 0)
regions = bytes([3]) + region(0x1000, 0x1000) + region(0x2000, 0x800) + region(0x2800, 0x1800)
ops = b''
for kind in range(4):
    ops += bytes([kind, 0]) + struct.pack('<hH', 0xf00, 0x400) + bytes([3])
put('accessor', 'three-regions', regions + ops)

# records: [u16 length][record]...; a sample (id 1, gpa 0x1000, 300 bytes) in two fragments
def hdr(typ, size):
    return struct.pack('<HHI', typ, 1, size)
def frag(sample, gpa, data, seq, status=0):
    body = struct.pack('<QQQIHBB', 7, sample, gpa, len(data), seq, status, 0)
    return hdr(3, 8 + len(body) + (len(data) if status == 0 else 0)) + body + \
        (data if status == 0 else b'')
def end(sample, gpa, ln, covered, nfrags):
    body = struct.pack('<QQQQIIIIHHi', 7, sample, gpa, 1, ln, covered, 1, 1, nfrags, 0, 0)
    return hdr(4, 8 + len(body)) + body
def framed(recs):
    return b''.join(struct.pack('<H', len(r)) + r for r in recs)
stream = [frag(1, 0x1000, bytes(range(200)), 0), frag(1, 0x10c8, b'', 1, status=1),
          end(1, 0x1000, 300, 300, 2)]
put('records', 'sample', framed(stream))
put('records', 'sample-out-of-order', framed([stream[1], stream[0], stream[2], stream[2]]))
