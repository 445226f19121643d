# dynamic attributes: getattr/setattr/hasattr/del and __getattr__ fallbacks
# (hasattr/getattr-with-default on a name that __getattr__ rejects differ on MicroPython 1.9: not used)
class Config:
    defaults = {'baud': 115200, 'parity': 'N'}
    def __init__(self, **kw):
        for k in sorted(kw):
            setattr(self, k, kw[k])
    def __getattr__(self, name):
        if name in Config.defaults:
            return Config.defaults[name]
        raise AttributeError(name)

c = Config(port='ttyACM0', timeout=3)
print(c.port, c.timeout, c.baud, c.parity)
print(hasattr(c, 'port'), c.__getattr__('parity'))
setattr(c, 'baud', 9600)
print(c.baud, Config().baud)
del c.baud
print(c.baud)
try:
    c.missing
except AttributeError as e:
    print('AttributeError', e.args)
names = ['port', 'timeout', 'baud', 'parity']
print([getattr(c, n) for n in names])
class Counter:
    pass
obj = Counter()
for i in range(3):
    setattr(obj, 'f%d' % i, i * i)
print([getattr(obj, 'f%d' % i) for i in range(3)], hasattr(obj, 'f3'), getattr(obj, 'f9', -1))
