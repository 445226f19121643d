# arithmetic special methods beyond + and - (*, /, //, %, unary, reflected, in-place)
class _Probe:
    def __mul__(self, o):
        return 1
try:
    _Probe() * 2
except TypeError:
    print('SKIP')
    raise SystemExit

class Money:
    def __init__(self, cents):
        self.cents = cents
    def __repr__(self):
        return 'M(%d)' % self.cents
    def __add__(self, o):
        return Money(self.cents + (o.cents if isinstance(o, Money) else o))
    def __radd__(self, o):
        return self + o
    def __mul__(self, k):
        return Money(self.cents * k)
    def __floordiv__(self, k):
        return Money(self.cents // k)
    def __mod__(self, k):
        return Money(self.cents % k)
    def __neg__(self):
        return Money(-self.cents)
    def __abs__(self):
        return Money(abs(self.cents))
    def __iadd__(self, o):
        self.cents += o.cents
        return self

m = Money(1050)
print(m * 3, m // 4, m % 4, -m, abs(-m), 5 + m, sum([Money(1), Money(2)], Money(0)))
acc = Money(0)
for c in (100, 250, 5):
    acc += Money(c)
print(acc, [m // n for n in (2, 3, 7)])
