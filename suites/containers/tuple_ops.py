# tuples: comparison, hashing, count/index, nesting, namedtuple
t = (3, 'a', (1, 2), 3)
print(len(t), t.count(3), t.index('a'), t[2][1], t[-1], t[1:3])
print((1, 2) < (1, 3), (1, 2, 3) > (1, 2), (2,) > (1, 9), () < (0,))
print(hash((1, 2)) == hash((1, 2)), {(0, 0): 'origin'}[(0, 0)])
print((1,) + (2, 3), (0,) * 3, tuple('ab'), tuple(range(3)), 3 in t)
try:
    t[0] = 9
except TypeError:
    print('TypeError item assignment')
from collections import namedtuple
Point = namedtuple('Point', ('x', 'y'))
p = Point(3, 4)
q = Point(y=1, x=2)
print(p, q, p.x * p.y, p[0] + q[1], p == (3, 4))
pts = [Point(i, i * i) for i in range(4)]
print(sum(pt.y for pt in pts), max(pts, key=lambda pt: pt.y).x)
print(sorted([(2, 'b'), (1, 'z'), (2, 'a')]))
