# float arithmetic: division, mixed int/float, floor division and modulo, comparisons
vals = [0.5, 1.25, -2.5, 3.0, 100.0]
print([v * 2 for v in vals], [v / 4 for v in vals])
print(7 / 2, -7 / 2, 7 // 2.0, -7 // 2.0, 7 % 2.5, -7 % 2.5)
print(1 / 3, 2 / 3, 10 / 7)
print(sum(vals), sum(vals) / len(vals), max(vals), min(vals))
print(0.5 + 0.25 == 0.75, 1.5 * 2 == 3, 2 ** -1, 2.0 ** 3, 4 ** 0.5)
print(divmod(9.5, 2), divmod(-9.5, 2), abs(-0.125), -(-1.5))
x = 1.0
for i in range(10):
    x = x * 1.5 - 0.25
print('iterated', x)
c = 0.0
for i in range(1, 21):
    c += 1.0 / (i * i)
print('basel partial', c)
print(float(7) == 7, 3 == 3.0, 0.5 + 0.25 == 0.75, abs(0.1 + 0.2 - 0.3) < 1e-6)
try:
    1.0 / 0
except ZeroDivisionError:
    print('ZeroDivisionError float')
