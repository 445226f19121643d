# formatting floats with fixed precision (%f, {:.Nf}, %e) rather than repr; values are chosen so
# that single precision (boards) and double precision (host) give the same digits (MicroPython 1.9
# prints '%.2f' % 123.4 as 123.39, so magnitudes stay below 100)
vals = [3.14159, -0.5, 2.0, 42.42, 7.77, 0.001]
for v in vals:
    print('%.2f|%8.3f|%-8.1f|%+.1f' % (v, v, v, v))
for v in vals:
    print('{:.3f} {:>10.2f} {:.0f}'.format(v, v, v))
print('%.3e %.1e' % (12345.678, 0.00042))
print('%g %g %g' % (0.5, 100.0, 1e-5))
total = 0.0
for price, qty in ((1.25, 3), (0.99, 10), (5.5, 2)):
    total += price * qty
    print('line %6.2f running %7.2f' % (price * qty, total))
print('avg %.4f' % (total / 3))
print('pct %.1f%%' % (100 * 0.456))
