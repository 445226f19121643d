# @micropython.native functions; the code is compiled with exec() so that firmware without the
# native emitter can print SKIP instead of failing to compile the whole program
import micropython
try:
    exec('@micropython.native\ndef _probe():\n    return 1\n')
except SyntaxError:
    print('SKIP')
    raise SystemExit
SRC = '''
@micropython.native
def sum_squares(n):
    s = 0
    for i in range(n):
        s += i * i
    return s

@micropython.native
def find(seq, x):
    for i, v in enumerate(seq):
        if v == x:
            return i
    return -1

@micropython.native
def mix(a, b):
    return [a + b, a * b, str(a) + str(b), (a, b)]

@micropython.native
def raises(n):
    if n > 2:
        raise ValueError(n)
    return n
'''
g = {'micropython': micropython}
exec(SRC, g)
print(g['sum_squares'](100), g['find']('hello', 'l'), g['find']([1, 2], 9))
print(g['mix'](3, 4), g['mix'](-1, 1))
for n in range(5):
    try:
        print(g['raises'](n))
    except ValueError as e:
        print('ValueError', e.args)
