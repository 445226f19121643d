# partial application and composition with closures
def partial(fn, *bound):
    def call(*rest):
        return fn(*(bound + rest))
    return call

def compose(*fns):
    def run(x):
        for f in reversed(fns):
            x = f(x)
        return x
    return run

def scale(k, x):
    return k * x

def offset(d, x):
    return x + d

double = partial(scale, 2)
inc = partial(offset, 1)
f = compose(double, inc)
g = compose(inc, double)
print(double(21), inc(41), f(5), g(5))
pipeline = compose(*[partial(offset, d) for d in range(5)])
print(pipeline(0))
def curry3(fn):
    return lambda a: lambda b: lambda c: fn(a, b, c)
vol = curry3(lambda a, b, c: a * b * c)
print(vol(2)(3)(4), [vol(1)(2)(n) for n in range(4)])
ops = {'+': lambda a, b: a + b, '-': lambda a, b: a - b, '*': lambda a, b: a * b}
def rpn(expr):
    st = []
    for tok in expr.split():
        if tok in ops:
            b, a = st.pop(), st.pop()
            st.append(ops[tok](a, b))
        else:
            st.append(int(tok))
    return st[0]
print(rpn('3 4 + 2 *'), rpn('10 2 3 * -'), rpn('1 2 3 4 + + +'))
