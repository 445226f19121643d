# exceptions crossing closures and callbacks
def ename(e):
    return repr(type(e))[8:-2]

def make_validator(limit):
    def validate(v):
        if v > limit:
            raise ValueError(v, limit)
        return v
    return validate

def apply_all(fn, items):
    ok, bad = [], []
    for it in items:
        try:
            ok.append(fn(it))
        except ValueError as e:
            bad.append(e.args)
    return ok, bad

print(apply_all(make_validator(10), [3, 12, 7, 40]))

def counter_with_budget(budget):
    used = [0]
    def take(n):
        if used[0] + n > budget:
            raise OverflowError('budget', budget - used[0])
        used[0] += n
        return used[0]
    return take

take = counter_with_budget(10)
for n in (4, 5, 3, 1):
    try:
        print('took', take(n))
    except OverflowError as e:
        print(ename(e), e.args)

handlers = [lambda: 1 // 0, lambda: [][1], lambda: {}['x'], lambda: int('q'), lambda: 'ok']
for h in handlers:
    try:
        print(h())
    except (ZeroDivisionError, IndexError) as e:
        print('arith/index', ename(e))
    except LookupError as e:
        print('lookup', ename(e))
    except Exception as e:
        print('other', ename(e))
