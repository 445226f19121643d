# re-raising: bare raise, raising a new exception from a handler, re-raise after cleanup
def ename(e):
    return repr(type(e))[8:-2]

def parse(s):
    try:
        return int(s)
    except ValueError:
        raise KeyError('bad:' + s)

def outer(s):
    try:
        return parse(s)
    except KeyError as e:
        print('outer saw', ename(e), e.args)
        raise

for s in ('12', 'xx'):
    try:
        print('value', outer(s))
    except Exception as e:
        print('top caught', ename(e), e.args)

def keep(e_list):
    try:
        {}['k']
    except KeyError as e:
        e_list.append(e)
saved = []
keep(saved)
try:
    raise saved[0]
except KeyError as e:
    print('raised saved', e.args, e is saved[0])

attempts = 0
while True:
    try:
        attempts += 1
        if attempts < 3:
            raise OSError(attempts)
        print('succeeded after', attempts)
        break
    except OSError as e:
        print('retry', e.args[0])
