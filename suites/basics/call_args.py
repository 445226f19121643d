# positional, keyword, default, keyword-only, *args and **kwargs
def f(a, b=2, *args, c=3, **kw):
    keys = sorted(kw)
    return (a, b, args, c, [(k, kw[k]) for k in keys])

print(f(1))
print(f(1, 5, 6, 7))
print(f(1, c=9, z=1, y=2))
print(f(*range(4), **{'c': 0, 'q': 'x'}))
def kwonly(*, x, y=1):
    return x * 10 + y
print(kwonly(x=4), kwonly(y=2, x=3))
try:
    kwonly(1)
except TypeError as e:
    print('TypeError caught')
def count_args(*a, **k):
    return len(a), len(k)
print(count_args(), count_args(1, 2, x=3), count_args(*'abc', **dict(p=1)))
def apply(fn, *a):
    return fn(*a)
print(apply(max, 3, 8, 1), apply(lambda *z: sum(z), 1, 2, 3))
