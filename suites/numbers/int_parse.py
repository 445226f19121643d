# int() with bases and whitespace, formatting ints, errors on bad input
cases = [('42', 10), ('  -17 ', 10), ('ff', 16), ('FF', 16), ('0x1f', 0), ('0o17', 0),
         ('0b101', 0), ('777', 8), ('z', 36), ('1010', 2), ('-10', 3)]
for s, base in cases:
    print(repr(s), base, int(s, base))
for bad in ('', '12a', '0x', '1.5', '--1'):
    try:
        int(bad)
        print('accepted', repr(bad))
    except ValueError as e:
        print('ValueError for', repr(bad))
print(int(3.99), int(-3.99), int('0'), int(True))
digits = [int(c) for c in str(2 ** 20)]
print(digits, sum(digits))
print(str(-12345)[::1], len(str(10 ** 15)), repr(100))
print('%d|%5d|%-5d|%05d|%+d' % (42, 42, 42, 42, 42))
