# insertion order: collections.OrderedDict keeps it (plain dicts do not on MicroPython)
from collections import OrderedDict
od = OrderedDict()
for k in ('zeta', 'alpha', 'mu', 'beta'):
    od[k] = len(k)
print(list(od.keys()), list(od.values()))
od['alpha'] = 99
print(list(od.items()))
del od['mu']
od['mu'] = 0
print(list(od))
od2 = OrderedDict([('b', 2), ('a', 1), ('c', 3)])
print([k + str(v) for k, v in od2.items()], od2['a'], 'c' in od2, len(od2))
print(od2.pop('b'), list(od2))
