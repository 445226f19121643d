# ends with an UNCAUGHT RuntimeError raised inside a generator that is driven by another generator
def readings():
    values = [12, 15, 11, 250, 14]
    for i, v in enumerate(values):
        if v > 100:
            raise RuntimeError('sensor spike', i, v)
        yield v

def smoothed(src):
    prev = None
    for v in src:
        if prev is not None:
            yield (prev + v) // 2
        prev = v

total = 0
for s in smoothed(readings()):
    total += s
    print('smoothed', s, 'running total', total)
print('unreachable')
