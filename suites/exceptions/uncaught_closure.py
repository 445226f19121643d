# ends with an UNCAUGHT IndexError raised in a closure called through a higher-order function
def make_lookup(table):
    def lookup(i):
        return table[i] * 2
    return lookup

def map_all(fn, idxs):
    out = []
    for i in idxs:
        out.append(fn(i))
        print('mapped', i, out[-1])
    return out

lk = make_lookup([5, 6, 7])
print(map_all(lk, [0, 2]))
map_all(lk, [1, 3])
