# bytes: indexing, slicing, search, split/join, comparison, iteration, concatenation
b = b'hello world'
print(b[0], b[-1], b[1:4], b[::1][-5:], len(b))
print(b.find(b'o'), b.rfind(b'o'), b.index(b'w'), b.count(b'l'))
print(b.split(), b.split(b'o'), b' '.join([b'a', b'b']))
print(b.upper(), b.replace(b'l', b'L'), b.startswith(b'he'), b.strip(b'hd'))
print(b'abc' < b'abd', b'abc' == bytes([97, 98, 99]), b'a' * 3 + b'b')
print(sum(b), max(b), min(b), [c for c in b'ABC'])
print(b'-'.join([b'5', b'x']), bytes(reversed(b'abc')))
chk = 0
for c in b:
    chk = (chk * 31 + c) & 0xFFFF
print('checksum', chk)
print(b'x' in b'xyz', 120 in b'xyz', len(b'\x00\xff'))
