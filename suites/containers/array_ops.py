# array module: typed arrays, append/extend, indexing, conversion to bytes
from array import array
a = array('h', [1, -2, 300])
a.append(-32768)
a.extend(array('h', [7, 8]))
print(a, len(a), a[2], a[-1], sum(a))
b = array('B', b'\x01\x02\xff')
print(b, list(b), bytes(b))
b[0] = 200
print(b[0], max(b))
f = array('i', range(5))
for i in range(len(f)):
    f[i] = f[i] * f[i] - 3
print(list(f), [x for x in f if x > 0])
print(bytes(array('H', [0x0102, 0x0304])))
print(array('b', [-1, 2])[0], len(array('I')))
