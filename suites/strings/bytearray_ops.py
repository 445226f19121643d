# bytearray: item and slice assignment, append/extend, conversion, in-place building
ba = bytearray(b'abcdef')
ba[0] = 65
ba[-1] = ord('F')
print(ba, len(ba))
ba.append(33)
ba.extend(b'??')
print(ba)
ba[1] = ba[2] = ord('Y')
print(ba, ba[2:5], bytes(ba[:2]))
z = bytearray(4)
for i in range(4):
    z[i] = i * 60
print(z, list(z), sum(z))
buf = bytearray()
for word in ('one', 'two', 'three'):
    buf.extend(bytes(word, 'utf-8'))
    buf.append(0x2c)
print(buf, bytes(buf).find(b'two'), bytes(buf).count(b','))
r = bytearray(b'stressed')
r2 = bytearray(len(r))
for i in range(len(r)):
    r2[i] = r[len(r) - 1 - i]
print(r2, r2 == b'desserts', bytearray(b'ab') + b'cd')
try:
    z[0] = 256
except ValueError:
    print('ValueError for 256')
