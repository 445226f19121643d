# list/dict/set comprehensions with conditions, nesting and scoping
sq = [x * x for x in range(10)]
print(sq, [x for x in sq if x % 2])
grid = [(r, c) for r in range(3) for c in range(3) if r != c]
print(grid)
flat = [v for row in [[1, 2], [3], [], [4, 5, 6]] for v in row]
print(flat, sum(flat))
mat = [[r * 3 + c for c in range(3)] for r in range(3)]
print(mat, [[mat[c][r] for c in range(3)] for r in range(3)])
d = {w: len(w) for w in ['a', 'bb', 'ccc', 'bb']}
print(sorted(d.items()))
s = {n % 7 for n in range(0, 50, 3)}
print(sorted(s))
pyth = [(a, b, c) for c in range(1, 30) for b in range(1, c) for a in range(1, b) if a * a + b * b == c * c]
print(pyth)
x = 'outer'
res = [x for x in 'ab']
print(res, x)
print([[i * j for j in range(1, 4)] for i in range(1, 4)][2])
print({k: v for k, v in zip('abc', range(3)) if v}.get('c'))
