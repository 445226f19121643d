# printf-style % formatting of ints, strings, reprs, widths, precision and dict arguments
rows = [('apple', 3, 0.5), ('kiwi', 12, 2.25), ('fig', 100, 10.0)]
for name, qty, price in rows:
    print('%-6s|%4d|%7.2f|%x' % (name, qty, price * qty, qty))
print('%s and %r' % ('str', 'repr'))
print('%5s|%-5s|%.2s' % ('ab', 'cd', 'efgh'))
print('%c%c%c' % (72, 105, 33), '%%d literal' % (), '%3d%%' % 50)
print('%(name)s is %(age)d' % {'name': 'Ada', 'age': 36})
print('%o %X %#x %#o' % (64, 3054, 255, 8))
print('%+d %+d % d' % (5, -5, 7))
total = sum(q for _, q, _ in rows)
print('total=%d avg=%.3f' % (total, total / len(rows)))
print('%s' % [1, 'two', (3,)], '%s' % (('t', 1),))
try:
    print('%d %d' % (1,))
except TypeError:
    print('TypeError: not enough arguments')
