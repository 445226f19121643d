# truth values, short-circuit evaluation, chained comparisons, conditional expressions
log = []
def t(name, val):
    log.append(name)
    return val

vals = [0, 1, '', 'a', [], [0], {}, None, 0.0, (), (None,)]
print([bool(v) for v in vals])
r = t('a', 0) or t('b', '') or t('c', 'x') or t('d', 1)
print(repr(r), log)
log.clear()
r = t('a', 1) and t('b', []) and t('c', 2)
print(repr(r), log)
print([x for x in range(12) if 2 < x <= 8 != x])
print(1 < 2 < 3, 3 > 2 > 2, 1 == 1.0 == True, 'a' < 'b' < 'ba')
print(['even' if n % 2 == 0 else 'odd' for n in range(4)])
print(not [], not not 'x', None is None, [] is not [])
n = 0
for v in vals:
    if v:
        n += 1
print('truthy count', n)
