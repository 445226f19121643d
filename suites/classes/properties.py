# property getters/setters/deleters with validation
try:
    property
except NameError:
    print('SKIP')
    raise SystemExit

class Temp:
    def __init__(self, c):
        self._c = 0
        self.celsius = c
    @property
    def celsius(self):
        return self._c
    @celsius.setter
    def celsius(self, v):
        if v < -273:
            raise ValueError('below absolute zero')
        self._c = v
    @property
    def fahrenheit(self):
        return self._c * 9 // 5 + 32

t = Temp(25)
print(t.celsius, t.fahrenheit)
t.celsius = 100
print(t.celsius, t.fahrenheit)
try:
    t.celsius = -300
except ValueError:
    print('rejected', t.celsius)
try:
    t.fahrenheit = 1
except AttributeError:
    print('read-only property')
print([Temp(c).fahrenheit for c in range(-40, 41, 20)])
