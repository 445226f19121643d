# non-ASCII strings: length, indexing, slicing, ord/chr, comparison and searching by code point
s = 'Gr\xfc\xdfe \u263a \u00e9t\u00e9'
print(len(s), s[2], s[-1], s[6:7] == '\u263a')
print([ord(c) for c in s[:5]])
print(''.join(chr(ord(c) + 1) for c in 'HAL\xe9'))
print(s.find('\u263a'), s.count('\u00e9'), '\u00e9t\u00e9' in s)
print(s.lower().count('e'), sorted(['\xe9', 'z', 'a', '\u263a']))
print(chr(0x41), chr(0xe9) == '\xe9', chr(0x263a) == '\u263a')
big = [c for c in s if ord(c) > 127]
print(len(big), [hex(ord(c)) for c in big])
print(s.split(' ')[1] == '\u263a', repr(s[6]) == "'\\u263a'")
