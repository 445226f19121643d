# global declarations, shadowing, default argument evaluation time, mutable defaults
counter = 0
def bump(n):
    global counter
    counter += n
    return counter

def shadow():
    counter = 'local'
    return counter

print(bump(2), bump(3), shadow(), counter)
D = 5
def dflt(x=D * 2):
    return x
D = 100
print(dflt(), dflt(1))
def app(v, acc=[]):
    acc.append(v)
    return len(acc)
print(app(1), app(2), app(3, []), app(4))
def outer():
    v = 'outer'
    def inner():
        return v.upper()
    v = 'changed'
    return inner()
print(outer())
g = [n * n for n in range(5)]
print(g, 'n' in globals())
def uses_builtin():
    len = lambda s: -1
    return len('abc')
print(uses_builtin(), len('abc'))
