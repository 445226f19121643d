# closures capture variables, not values: late binding in loops and the default-argument fix
fs = []
for i in range(4):
    fs.append(lambda: i * 10)
print([f() for f in fs])
gs = []
for i in range(4):
    gs.append(lambda i=i: i * 10)
print([g() for g in gs])
def make_adders():
    return [lambda x, k=k: x + k for k in range(3)]
print([a(100) for a in make_adders()])
def make_late():
    out = []
    for k in range(3):
        def f():
            return k
        out.append(f)
    k = 'changed'
    return out
print([f() for f in make_late()])
def factory(n):
    def power(x):
        return x ** n
    return power
sq, cube = factory(2), factory(3)
print(sq(7), cube(3), [factory(k)(2) for k in range(5)])
x = 1
def read_global():
    return x
x = 2
print(read_global())
