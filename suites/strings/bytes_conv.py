# str <-> bytes conversion with the constructors (works on old firmware without str.encode)
texts = ['plain', 'caf\xe9', '\u263a!', '\u00fcber']
for t in texts:
    b = bytes(t, 'utf-8')
    back = str(b, 'utf-8')
    print(len(t), len(b), b, back == t)
print(bytes([72, 105]), bytes(3), bytes(range(65, 70)))
print(str(b'abc', 'utf-8'), list(b'AZ'), bytes('xyz', 'ascii'))
utf8_len = 0
for ch in 'na\xefve \u2603':
    utf8_len += len(bytes(ch, 'utf-8'))
print('utf8 bytes', utf8_len, [ord(c) for c in 'na\xefve'])
print(str(b'x'), repr(bytes([0, 10, 39, 92, 200])))
