# generator lifecycle: close(), throw(), finally blocks, StopIteration value, reuse after exhaustion
def ename(e):
    return repr(type(e))[8:-2]

log = []
def worker():
    log.append('start')
    try:
        while True:
            try:
                item = yield
                log.append('got %s' % item)
            except ValueError as e:
                log.append('recovered %s' % e.args[0])
    finally:
        log.append('finally')

w = worker()
next(w)
w.send(1)
w.throw(ValueError('v1'))
w.send(2)
w.close()
print(log)
def ret():
    yield 1
    return 'done'
r = ret()
next(r)
try:
    next(r)
except StopIteration as e:
    print('StopIteration value', e.args)
def unhandled():
    yield 1
    yield 2
u = unhandled()
next(u)
try:
    u.throw(KeyError('k'))
except KeyError as e:
    print('propagated', ename(e), e.args)
print(list(u))
g = (x for x in range(3))
print(list(g), list(g))
def never_started():
    log.append('should not run')
    yield
n = never_started()
n.close()
print('should not run' in log)
