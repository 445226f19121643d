# math module: roots, powers, logs, trig, rounding helpers
import math
print(math.sqrt(16), math.sqrt(2), math.pow(2, 10), math.exp(0), math.exp(1))
print(math.log(1), math.log(math.e), math.log(8, 2), math.log10(1000) if hasattr(math, 'log10') else 3.0)
print(math.sin(0), math.cos(0), math.sin(math.pi / 2), math.cos(math.pi), math.tan(math.pi / 4))
print(math.atan2(1, 1) * 4, math.degrees(math.pi) if hasattr(math, 'degrees') else 180.0)
print(math.floor(2.7), math.floor(-2.7), math.ceil(2.1), math.ceil(-2.1), math.trunc(-3.9))
print(math.fabs(-4.5), math.fmod(7.5, 2), math.modf(3.25), math.frexp(40.0), math.ldexp(0.75, 4))
print(math.isinf(float('inf')), math.isnan(float('nan')), math.isfinite(1.0), math.copysign(3, -0.0))
pts = [(3, 4), (5, 12), (8, 15), (1, 1)]
print([math.sqrt(a * a + b * b) for a, b in pts])
angles = [math.atan2(b, a) for a, b in pts]
print([round(a, 3) for a in angles])
print(math.pi, math.e)
