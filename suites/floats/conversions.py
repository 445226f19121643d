# float <-> int/str conversions, rounding, inf and nan handling
print(float('1.5'), float('-2'), float(' 3.25 '), float('1e3'), float('inf'), float('-inf'))
print(int(2.9), int(-2.9), round(2.5), round(3.5), round(-1.5), round(7.0))
print(round(3.14159, 2), round(2.71828, 3), round(1234.5, -2), round(0.125, 1))
print(str(1.5), repr(0.25), str(100.0), str(-0.0), 1e3, 2.5e-3)
nan = float('nan')
inf = float('inf')
print(nan is nan, inf > 1e30, -inf < -1e30, inf + 1 == inf, inf == -(-inf))
for s in ('abc', '1.2.3', ''):
    try:
        float(s)
        print('parsed', s)
    except ValueError:
        print('ValueError', repr(s))
try:
    int(inf)
except OverflowError:
    print('OverflowError int(inf)')
try:
    int(nan)
except ValueError:
    print('ValueError int(nan)')
print(float(10), float(True), 7 / 7, type(7 / 7) is float, isinstance(1.0, float))
vals = sorted([2.5, -1.0, 0.0, 10.25, -3.5])
print(vals, [int(v) for v in vals], [v > 0 for v in vals])
