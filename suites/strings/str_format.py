# str.format: positional and keyword fields, alignment, fill, sign, bases, precision
print('{} + {} = {}'.format(2, 3, 2 + 3))
print('{1}{0}{1}'.format('a', 'b'), '{x}-{y}'.format(y=2, x=1))
for v in (7, 42, 1234):
    print('[{:>6}] [{:<6}] [{:^6}] [{:*^8}] [{:06d}]'.format(v, v, v, v, v))
print('{:x} {:X} {:o} {:b} {:#x} {:#b}'.format(255, 255, 8, 10, 255, 5))
print('{:+d} {:+d} {: d}'.format(3, -3, 4))
print('{:.3f} {:8.2f} {:<8.1f}|'.format(3.14159, 2.5, 1.25))
print('{:5}|{:>5}|{:.2}'.format('ab', 'cd', 'xyz'))
items = {'a': 1, 'b': 22, 'c': 333}
for k in sorted(items):
    print('{key:<3}={val:>4}'.format(key=k, val=items[k]))
print('{0}{1}{0}'.format([10, 20], {'k': 'v'}))
print('{{literal}} {}'.format('x'))
table = ['{:2d}:{:>3}'.format(i, i * i) for i in range(1, 6)]
print(' | '.join(table))
