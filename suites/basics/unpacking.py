# tuple/list unpacking, starred targets, swaps, nested targets, unpacking in calls
a, b = 1, 2
a, b = b, a + b
print(a, b)
first, *mid, last = range(7)
print(first, mid, last)
*init, tail = 'hello'
print(init, tail)
(x, y), z = (3, 4), 5
print(x * y * z)
pts = [(1, 2), (3, 4), (5, 6)]
print(sum(p * q for p, q in pts))
def f(a, b, c=10, *rest, **kw):
    return a + b + c + sum(rest) + sum(kw.values())
args = (1, 2, 3, 4)
print(f(*args), f(1, 2), f(*[1, 2], c=0, d=7), f(**{'a': 5, 'b': 6}))
fib = [0, 1]
for _ in range(10):
    fib.append(fib[-1] + fib[-2])
p, q, *_ = fib[::-1]
print(p, q, len(_))
for i, (ch, n) in enumerate(zip('xyz', (7, 8, 9))):
    print(i, ch * (n - 6))
