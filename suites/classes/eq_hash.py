# __eq__ and __hash__: value objects as dict keys and set members
class Key:
    def __init__(self, bus, addr):
        self.bus = bus
        self.addr = addr
    def __eq__(self, other):
        return isinstance(other, Key) and (self.bus, self.addr) == (other.bus, other.addr)
    def __hash__(self):
        return hash((self.bus, self.addr))
    def __repr__(self):
        return 'Key(%d,%d)' % (self.bus, self.addr)

keys = [Key(0, 0x3c), Key(1, 0x68), Key(0, 0x3c), Key(1, 0x77), Key(1, 0x68)]
uniq = set(keys)
print(len(keys), len(uniq), sorted(uniq, key=lambda k: (k.bus, k.addr)))
seen = {}
for k in keys:
    seen[k] = seen.get(k, 0) + 1
print(sorted((k.addr, n) for k, n in seen.items()))
print(Key(2, 5) == Key(2, 5), Key(2, 5) != Key(2, 6), Key(2, 5) == (2, 5), Key(0, 0x3c) in uniq)
print(keys.count(Key(1, 0x68)), keys.index(Key(1, 0x77)))
class Plain:
    pass
p = Plain()
print(p == p, p == Plain(), len({p, p, Plain()}))
