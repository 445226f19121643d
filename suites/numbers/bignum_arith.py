# arbitrary precision integers: factorial, powers, division and modulo of big values
try:
    big = 2 ** 100
except OverflowError:
    print('SKIP')
    raise SystemExit
print(big, big - 1, -big)
f = 1
for k in range(1, 31):
    f *= k
print('30! =', f, len(str(f)))
q, r = divmod(f, 10 ** 9 + 7)
print(q, r, q * (10 ** 9 + 7) + r == f)
print(-f // 12345, -f % 12345, f // -12345, f % -12345)
print(3 ** 60, 7 ** 40 - 7 ** 39)
n = 1
for _ in range(5):
    n = n * n + 1
print(n, n % 1000, n > big, n == n + 0)
a = 123456789123456789123456789
b = 987654321987654321
print(a * b, a // b, a % b, abs(-a))
print(sum(2 ** k for k in range(64)) == 2 ** 64 - 1)
