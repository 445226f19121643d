# classmethod constructors, staticmethods, class attributes vs instance attributes
class Color:
    made = 0
    palette = {}
    def __init__(self, r, g, b):
        self.rgb = (r, g, b)
        Color.made += 1
    @classmethod
    def from_hex(cls, s):
        v = int(s, 16)
        return cls(v >> 16, (v >> 8) & 255, v & 255)
    @classmethod
    def register(cls, name, c):
        cls.palette[name] = c
        return len(cls.palette)
    @staticmethod
    def clamp(x):
        return 0 if x < 0 else 255 if x > 255 else x
    def mix(self, other):
        return Color(*[self.clamp((a + b) // 2) for a, b in zip(self.rgb, other.rgb)])

class Warm(Color):
    pass

red = Color.from_hex('ff0000')
blue = Color(0, 0, 255)
print(red.rgb, blue.rgb, red.mix(blue).rgb)
w = Warm.from_hex('ff8800')
print(type(w) is Warm, w.rgb, Warm.clamp(300), Color.clamp(-5), w.clamp(7))
print(Color.register('red', red), Warm.register('w', w), sorted(Color.palette))
print(Color.made)
w.made = 'instance'
print(Color.made, w.made, Warm.made)
