# sets of ints and strings; printed sorted because iteration order depends on hashing
a = {1, 2, 3, 4, 5}
b = set(range(4, 9))
print(sorted(a | b), sorted(a & b), sorted(a - b), sorted(a ^ b))
print(a.issubset(a | b), b.issuperset({5, 6}), a.isdisjoint({10, 11}), {1, 2} < a, a <= a)
a.add(10)
a.discard(1)
a.remove(2)
print(sorted(a), len(a), 10 in a, 2 in a)
try:
    a.remove(99)
except KeyError:
    print('KeyError remove')
words = set('the cat and the hat and the bat'.split())
print(sorted(words), len(words))
letters = set('mississippi')
print(sorted(letters), sorted(set('abc').union('cde')), sorted(set('abc').intersection('bcd')))
s = set()
for n in range(30):
    s.add(n * n % 11)
print(sorted(s))
fs = frozenset([3, 1, 2])
print(sorted(fs), fs == {1, 2, 3}, len({fs, frozenset([1, 2, 3])}))
u = {1, 2}
u.update([3, 4], (5,))
print(sorted(u), u.pop() in range(1, 6), len(u))
