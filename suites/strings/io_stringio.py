# io.StringIO / io.BytesIO as in-memory streams (the top-level import makes boards without io skip)
import io
s = io.StringIO()
for i in range(5):
    s.write('line %d\n' % i)
print(repr(s.getvalue()), len(s.getvalue()))
r = io.StringIO('alpha\nbeta\ngamma\n')
print(r.readline(), r.read(3), repr(r.read()))
b = io.BytesIO()
b.write(b'\x01\x02')
b.write(bytes(range(3, 6)))
print(b.getvalue(), sum(b.getvalue()))
print('x', 'y', sep='-', end='|\n', file=s)
print(s.getvalue().split('\n')[-2])
