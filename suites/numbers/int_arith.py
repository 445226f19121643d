# floor division and modulo with mixed signs, divmod, pow, abs, comparisons (small ints only)
pairs = [(7, 2), (-7, 2), (7, -2), (-7, -2), (0, 5), (13, 13)]
for a, b in pairs:
    q, r = divmod(a, b)
    print(a, b, a // b, a % b, q * b + r == a)
print([pow(2, k) for k in range(0, 31, 5)])
print([3 ** k % 17 for k in range(8)])
print(abs(-12345), -(-5), +7, -0)
s = 0
for k in range(1, 101):
    s += k * k if k % 2 else -k
print('mixed sum', s)
print(max(-3, -1, -2), min(4, 2, 3), 10 - 3 * 2 ** 2, (10 - 3) * 2 ** 2, 2 ** 3 ** 2)
print(int(True) + int(False), 5 == 5.0, 7 // 1, -1 ** 2, (-1) ** 2)
for bad in (0,):
    try:
        print(1 // bad)
    except ZeroDivisionError:
        print('ZeroDivisionError //')
    try:
        print(1 % bad)
    except ZeroDivisionError:
        print('ZeroDivisionError %')
