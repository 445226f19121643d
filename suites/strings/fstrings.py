# f-strings; compiled through exec() so firmware without them can skip instead of failing to compile
try:
    exec('f""')
except SyntaxError:
    print('SKIP')
    raise SystemExit
SRC = """
name = 'board'
n = 7
print(f'{name} has {n} pins, {n * 2} ends')
print(f'{n:>4}|{n:<4}|{n:04d}|{255:x}|{name!r}')
vals = [1.5, 2.25]
print(f'{sum(vals):.2f} {len(vals)} {vals[0]} {"q"}')
w = 6
print(f'{name:^{w}}|{{braces}}')
"""
exec(SRC)
