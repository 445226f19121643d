# arithmetic that crosses the small-int boundary (31-bit on 32-bit boards, 63-bit on 64-bit hosts)
try:
    2 ** 65
except OverflowError:
    print('SKIP')
    raise SystemExit
edges = [2 ** 30 - 1, 2 ** 30, -2 ** 30, -2 ** 30 - 1, 2 ** 62, 2 ** 63 - 1, -2 ** 63]
for v in edges:
    print(v, v + 1, v - 1, v * 2, v // 3, -v, v >> 1)
x = 1
steps = []
for i in range(70):
    x *= 2
    if i % 10 == 9:
        steps.append(x)
print(steps)
print([x // 3 for x in steps[-3:]], steps[-1] % 1000)
h = 5381
for c in 'hilrig':
    h = h * 33 + ord(c)
print('djb2', h, h & 0xFFFFFFFF)
print(123456789 * 987654321, 46341 * 46341, 65536 * 32768)
