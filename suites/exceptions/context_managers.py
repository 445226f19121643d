# with statements: enter/exit order, exception info passed to __exit__, suppression
log = []

def ename(t):
    return repr(t)[8:-2]

class Res:
    def __init__(self, name, suppress=False):
        self.name = name
        self.suppress = suppress
    def __enter__(self):
        log.append('enter ' + self.name)
        return self.name.upper()
    def __exit__(self, typ, val, tb):
        log.append('exit %s %s' % (self.name, ename(typ) if typ else None))
        return self.suppress

with Res('a') as a, Res('b') as b:
    log.append('body ' + a + b)
print(log)
del log[:]
with Res('outer', suppress=True):
    with Res('inner'):
        raise KeyError('k')
    log.append('not reached')
log.append('after')
print(log)
del log[:]
try:
    with Res('x'):
        raise ValueError(1)
except ValueError as e:
    log.append('caught %s' % (e.args,))
print(log)
def early():
    with Res('r'):
        return 'returned'
del log[:]
print(early(), log)
del log[:]
for i in range(3):
    with Res(str(i)):
        if i == 1:
            continue
        log.append('work%d' % i)
print(log)
