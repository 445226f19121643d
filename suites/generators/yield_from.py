# yield from: delegation, return values of subgenerators, send passing through
def inner(n):
    got = []
    for i in range(n):
        x = yield i
        got.append(x)
    return sum(v for v in got if v is not None)

def outer():
    a = yield from inner(3)
    b = yield from inner(2)
    yield ('totals', a, b)

g = outer()
out = [next(g)]
for v in (10, 20, 30, 1, 2):
    out.append(g.send(v))
print(out)
def flatten(x):
    if isinstance(x, list):
        for item in x:
            yield from flatten(item)
    else:
        yield x
print(list(flatten([1, [2, [3, [4, 5]], 6], [[7]], 8])))
def chain(*its):
    for it in its:
        yield from it
print(list(chain('ab', range(3), [None])), sum(chain(range(5), (10, 20))))
def delegate_iter():
    r = yield from iter([1, 2])
    yield r
print(list(delegate_iter()))
