# dict operations; iteration order is printed sorted (it is not insertion order on MicroPython)
d = {'one': 1, 'two': 2}
d['three'] = 3
d.update({'four': 4}, five=5)
print(sorted(d.items()), len(d))
print(d.get('two'), d.get('six'), d.get('six', 6), 'one' in d, 1 in d)
print(d.pop('one'), d.pop('zzz', 'dflt'), sorted(d))
print(d.setdefault('two', 22), d.setdefault('ten', 10), sorted(d.values()))
counts = {}
for ch in 'mississippi':
    counts[ch] = counts.get(ch, 0) + 1
print(sorted(counts.items()), sorted(counts, key=lambda k: (-counts[k], k))[:2])
groups = {}
for w in ['ant', 'bee', 'cat', 'bat', 'ape', 'cow']:
    groups.setdefault(w[0], []).append(w)
for k in sorted(groups):
    print(k, groups[k])
inv = {v: k for k, v in counts.items()}
print(sorted(inv.items()))
del d['two']
print(sorted(d.keys()), sum(d.values()), dict(zip('ab', (1, 2))) == {'a': 1, 'b': 2})
try:
    d['missing']
except KeyError as e:
    print('KeyError', e.args)
k = {(1, 2): 'tuple', 3: 'int', 'x': 'str'}
print(k[(1, 2)], k[3], len(dict.fromkeys('aabbc')))
