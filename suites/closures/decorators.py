# decorators built from closures: call counting, memoisation, argument checking, stacking
# (no deep recursion: MicroPython 1.9 on a micro:bit manages only about 6 nested Python calls)
CALLS = {}

def counted(fn):
    key = len(CALLS)
    CALLS[key] = 0
    def wrapper(*a, **k):
        CALLS[key] += 1
        return fn(*a, **k)
    return wrapper

def memo(fn):
    cache = {}
    def wrapper(n):
        if n not in cache:
            cache[n] = fn(n)
        return cache[n]
    return wrapper

def clamp(lo, hi):
    def deco(fn):
        def wrapper(x):
            return fn(lo if x < lo else hi if x > hi else x)
        return wrapper
    return deco

@memo
@counted
def collatz_len(n):
    steps = 0
    while n != 1:
        n = n // 2 if n % 2 == 0 else 3 * n + 1
        steps += 1
    return steps

print([collatz_len(n) for n in (27, 9, 27, 97, 9, 27)], CALLS[0])
print(max(collatz_len(n % 7 + 1) for n in range(50)), CALLS[0])

@clamp(0, 10)
def double(x):
    return x * 2
print([double(v) for v in (-5, 3, 7, 50)])

def trace(tag):
    def deco(fn):
        def w(*a):
            r = fn(*a)
            print(tag, a, '->', r)
            return r
        return w
    return deco

@trace('outer')
@trace('inner')
def add(a, b):
    return a + b
add(2, 3)
