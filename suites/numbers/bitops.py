# and/or/xor/invert, shifts of small ints, bin/hex/oct, a popcount and a bit-reverse
vals = [0, 1, 5, 255, 1023, -1, -256]
for v in vals:
    print(v, v & 0xF0, v | 3, v ^ 0x55, ~v, v << 3, v >> 2)
def popcount(n):
    c = 0
    while n:
        n &= n - 1
        c += 1
    return c
print([popcount(n) for n in (0, 1, 7, 255, 0x5555, 1023)])
def rev8(b):
    r = 0
    for _ in range(8):
        r = (r << 1) | (b & 1)
        b >>= 1
    return r
print([rev8(b) for b in (1, 2, 0x0F, 0xA5, 0x80)])
print(bin(42), hex(48879), oct(511), bin(-5), hex(-255))
print('%x %X %o %d' % (3054, 3054, 8, 0b1011))
mask = 0
for bit in (0, 3, 5, 7):
    mask |= 1 << bit
print(mask, [b for b in range(8) if mask >> b & 1])
