# exceptions raised inside generators, thrown into them, and cleaned up by close()
def ename(e):
    return repr(type(e))[8:-2]

def risky(n):
    for i in range(n):
        if i == 3:
            raise ValueError('at', i)
        yield i * 10

got = []
try:
    for v in risky(6):
        got.append(v)
except ValueError as e:
    print('loop stopped', got, e.args)

def guarded():
    total = 0
    while True:
        try:
            x = yield total
            total += x
        except KeyError as e:
            print('generator handled', ename(e), e.args)
            total = -1
        finally:
            pass

g = guarded()
next(g)
print(g.send(5), g.send(7))
print(g.throw(KeyError('reset')))
print(g.send(3))

def cleanup():
    try:
        yield 1
        yield 2
    finally:
        print('cleanup ran')

c = cleanup()
print(next(c))
c.close()
def tell():
    try:
        yield 1
    except GeneratorExit:
        print('GeneratorExit seen')
        raise
t = tell()
next(t)
t.close()
try:
    next(t)
except StopIteration:
    print('closed generator is exhausted')
