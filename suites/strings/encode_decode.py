# str.encode / bytes.decode round trips including non-ASCII text
if not hasattr('', 'encode'):
    print('SKIP')
    raise SystemExit
texts = ['plain', 'caf\xe9', '\u263a smile', '\u00fcber', '']
for t in texts:
    b = t.encode()
    print(len(t), len(b), b, b.decode() == t)
print('abc'.encode('utf-8'), b'\xc3\xa9t\xc3\xa9'.decode('utf-8'))
try:
    b'\xff\xfe'.decode()
    print('decoded bad utf-8')
except UnicodeError:
    print('UnicodeError')
b = bytearray('h\xe9'.encode())
print(b, b.decode(), len(b))
