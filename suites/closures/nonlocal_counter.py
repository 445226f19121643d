# nonlocal rebinding: counters, accumulators and independent closure cells
def make_counter(start=0, step=1):
    n = start
    def nxt():
        nonlocal n
        n += step
        return n
    def reset():
        nonlocal n
        n = start
    return nxt, reset

c1, r1 = make_counter()
c2, _ = make_counter(100, -10)
print([c1() for _ in range(3)], [c2() for _ in range(3)])
r1()
print(c1(), c2())

def accumulator():
    items = []
    total = 0
    def add(x):
        nonlocal total
        items.append(x)
        total += x
        return total, len(items)
    return add

acc = accumulator()
for x in (5, 10, 20):
    print(acc(x))
def outer():
    x = 'o'
    def mid():
        def inner():
            nonlocal x
            x = x + 'i'
            return x
        inner()
        return inner()
    return mid(), x
print(outer())
