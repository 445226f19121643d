# generator expressions: laziness, consumption by builtins, exhaustion
calls = []
def sq(x):
    calls.append(x)
    return x * x

g = (sq(x) for x in range(10))
print(len(calls))
print(next(g), next(g), len(calls))
print(sum(g), len(calls))
print(list(g))
print(sum(x for x in range(101) if x % 3 == 0), max(len(w) for w in 'a bb ccc dd'.split()))
print(any(x > 8 for x in range(10)), all(x < 5 for x in range(10)))
print(sorted((c for c in 'generator'), reverse=True), ''.join(c.upper() for c in 'gen'))
pairs = ((i, j) for i in range(3) for j in range(i))
print(list(pairs))
nested = (sum(row) for row in ([1, 2], [3, 4], [5]))
print(list(nested), list(x for x in []), tuple(x % 4 for x in range(7)))
