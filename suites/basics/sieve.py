# sieve of Eratosthenes, gcd, collatz: small integer algorithms
def sieve(n):
    flags = bytearray(n + 1)
    for k in range(2, n + 1):
        flags[k] = 1
    i = 2
    while i * i <= n:
        if flags[i]:
            for j in range(i * i, n + 1, i):
                flags[j] = 0
        i += 1
    return [k for k in range(n + 1) if flags[k]]

pr = sieve(200)
print(len(pr), pr[:10], pr[-3:], sum(pr))
def gcd(a, b):
    while b:
        a, b = b, a % b
    return a
print([gcd(a, b) for a, b in ((12, 18), (17, 5), (100, 75), (0, 9))])
def collatz(n):
    steps = 0
    while n != 1:
        n = n // 2 if n % 2 == 0 else 3 * n + 1
        steps += 1
    return steps
best = max(range(1, 300), key=collatz)
print(best, collatz(best))
print(''.join('F' * (i % 3 == 0) + 'B' * (i % 5 == 0) or str(i) for i in range(1, 16)))
