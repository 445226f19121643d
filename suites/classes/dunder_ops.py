# protocol methods on a small vector class (only the ones every MicroPython build dispatches:
# + - comparisons, len/getitem/setitem/iter/contains/call/bool/eq/hash/repr)
class Vec:
    def __init__(self, *c):
        self.c = list(c)
    def __repr__(self):
        return 'Vec(%s)' % ', '.join(str(x) for x in self.c)
    def __add__(self, o):
        return Vec(*[a + b for a, b in zip(self.c, o.c)])
    def __sub__(self, o):
        return Vec(*[a - b for a, b in zip(self.c, o.c)])
    def __len__(self):
        return len(self.c)
    def __getitem__(self, i):
        return self.c[i]
    def __setitem__(self, i, v):
        self.c[i] = v
    def __iter__(self):
        return iter(self.c)
    def __contains__(self, v):
        return v in self.c
    def __eq__(self, o):
        return self.c == o.c
    def __lt__(self, o):
        return sum(self.c) < sum(o.c)
    def __call__(self, i):
        return self.c[i] ** 2
    def __bool__(self):
        return any(self.c)

a = Vec(1, 2, 3)
b = Vec(4, 5, 6)
print(a + b, b - a, a + a + a, len(a), a[1], a[-1], list(b), 5 in b, 7 in b)
a[0] = 11
print(a, a == Vec(11, 2, 3), a == b, a(2), bool(Vec(0, 0)), bool(a))
print(sorted([b, a, Vec(0, 0, 1)]), a < b, b < a, str(a))
print([x * 2 for x in a], sum(a), tuple(Vec(7, 8)), 'yes' if Vec(0, 1) else 'no')
