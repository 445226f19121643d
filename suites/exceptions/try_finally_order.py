# order of try/except/else/finally blocks, finally on return/break/continue, nested handlers
log = []
def run(mode):
    try:
        log.append('try')
        if mode == 'raise':
            raise ValueError(mode)
        if mode == 'return':
            return 'from-try'
    except ValueError as e:
        log.append('except ' + e.args[0])
        return 'from-except'
    else:
        log.append('else')
    finally:
        log.append('finally')
    return 'end'

for m in ('ok', 'raise', 'return'):
    del log[:]
    r = run(m)
    print(m, r, log)

def override():
    try:
        return 1
    finally:
        return 2
print('override', override())
out = []
for i in range(4):
    try:
        if i == 1:
            continue
        if i == 3:
            break
        out.append(i)
    finally:
        out.append('f%d' % i)
print(out)
def nested():
    seq = []
    try:
        try:
            seq.append(1)
            raise KeyError('inner')
        finally:
            seq.append(2)
    except KeyError as e:
        seq.append(e.args[0])
    finally:
        seq.append(3)
    return seq
print(nested())
