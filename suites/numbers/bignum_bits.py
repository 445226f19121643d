# shifts, and/or/xor, invert and comparisons on big and negative big integers
try:
    x = 1 << 80
except OverflowError:
    print('SKIP')
    raise SystemExit
print(x, x >> 13, x >> 80, x >> 90, (x - 1) & 0xFFFF)
a = (1 << 70) | 0x1234
b = (1 << 65) + 0xFF
print(a & b, a | b, a ^ b)
print(~a, -a >> 3, -a & 0xFFFF, (-a) | 7)
print(hex(a), bin(b >> 60), hex(-b))
m = (1 << 64) - 1
print(m, m + 1 == 1 << 64, (m * m) >> 64)
vals = [1 << 40, -(1 << 40), 1 << 31, 1 << 30, (1 << 30) - 1, -(1 << 30), 7]
print(sorted(vals))
print([v >> 29 for v in vals])
print(sum(vals) & ((1 << 20) - 1), max(vals) - min(vals))
