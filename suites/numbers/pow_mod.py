# three-argument pow against a square-and-multiply implementation
try:
    pow(3, 4, 5)
except NotImplementedError:
    print('SKIP')
    raise SystemExit
def modpow(b, e, m):
    r = 1
    b %= m
    while e:
        if e & 1:
            r = r * b % m
        b = b * b % m
        e >>= 1
    return r
cases = [(2, 10, 1000), (3, 200, 1000), (7, 123, 13), (10, 18, 97), (5, 0, 7), (123456, 789, 1009)]
for b, e, m in cases:
    print(b, e, m, pow(b, e, m), modpow(b, e, m) == pow(b, e, m))
p = 1000003
print('fermat', all(pow(a, p - 1, p) == 1 for a in (2, 3, 5, 7)))
print(pow(2, 127, 2 ** 61 - 1))
