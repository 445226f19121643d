# chained lazy generators forming a data pipeline, plus hand-written iterators
def source(n):
    for i in range(n):
        yield i

def take_while_small(it, limit):
    for v in it:
        if v >= limit:
            return
        yield v

def window(it, size):
    buf = []
    for v in it:
        buf.append(v)
        if len(buf) == size:
            yield tuple(buf)
            buf.pop(0)

def running(it):
    total = 0
    for v in it:
        total += v
        yield total

print(list(window(take_while_small(source(100), 7), 3)))
print(list(running(x * x for x in source(6))))
print([sum(w) for w in window(running(source(8)), 2)])

class Countdown:
    def __init__(self, n):
        self.n = n
    def __iter__(self):
        return self
    def __next__(self):
        if self.n <= 0:
            raise StopIteration
        self.n -= 1
        return self.n + 1

print(list(Countdown(5)), sum(Countdown(10)), list(zip(Countdown(3), 'abc')))
def fib():
    a, b = 0, 1
    while True:
        yield a
        a, b = b, a + b
f = fib()
print([next(f) for _ in range(15)])
