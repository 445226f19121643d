# @micropython.viper functions with typed ints and pointers; compiled with exec() so that firmware
# without the viper emitter can print SKIP instead of failing to compile the whole program
import micropython
try:
    exec('@micropython.viper\ndef _probe(x: int) -> int:\n    return x\n')
except SyntaxError:
    print('SKIP')
    raise SystemExit
SRC = '''
@micropython.viper
def tri(n: int) -> int:
    s = 0
    i = 0
    while i <= n:
        s += i
        i += 1
    return s

@micropython.viper
def checksum(buf) -> int:
    p = ptr8(buf)
    n = int(len(buf))
    c = 0
    for i in range(n):
        c = (c + p[i]) & 0xFF
    return c

@micropython.viper
def invert(buf):
    p = ptr8(buf)
    for i in range(int(len(buf))):
        p[i] = p[i] ^ 0xFF

@micropython.viper
def shifts(x: int) -> int:
    return (x << 4) | (x >> 2)
'''
g = {'micropython': micropython}
exec(SRC, g)
print(g['tri'](100), g['tri'](0), g['shifts'](5))
data = bytearray(b'\x01\x02\x80\xff')
print(g['checksum'](data), g['checksum'](b'hello'))
g['invert'](data)
print(data, g['checksum'](data))
