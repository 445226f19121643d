# generator send(): a running-average coroutine and a simple state machine
def averager():
    total = 0
    n = 0
    avg = None
    while True:
        v = yield avg
        total += v
        n += 1
        avg = total // n

a = averager()
print(next(a))
print([a.send(v) for v in (10, 20, 60, 2)])

def door():
    state = 'closed'
    log = []
    while True:
        cmd = yield state
        if cmd == 'open' and state == 'closed':
            state = 'open'
        elif cmd == 'close' and state == 'open':
            state = 'closed'
        elif cmd == 'lock' and state == 'closed':
            state = 'locked'
        elif cmd == 'unlock' and state == 'locked':
            state = 'closed'
        elif cmd == 'log':
            state = ','.join(log)
        else:
            log.append(cmd + '@' + state)

d = door()
next(d)
print([d.send(c) for c in ('open', 'lock', 'close', 'lock', 'open', 'unlock', 'open', 'log')])
def echo():
    r = yield
    while True:
        r = yield r * 2 if r is not None else 'none'
e = echo()
next(e)
print(e.send(4), e.send('ab'), next(e), e.send(1))
