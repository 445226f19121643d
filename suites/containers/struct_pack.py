# struct pack/unpack with byte orders and sizes
import struct
print(struct.calcsize('<BHI'), struct.calcsize('<hhb'), struct.calcsize('<q'))
p = struct.pack('<BHI', 1, 0x0203, 0x04050607)
print(p, len(p))
print(struct.unpack('<BHI', p))
print(struct.pack('>HI', 0x0203, 0x04050607), struct.pack('<h', -2), struct.pack('>i', -1))
print(struct.unpack('>hh', b'\xff\xfe\x00\x10'), struct.unpack('<I', b'\x01\x00\x00\x80'))
rec = struct.pack('<Hb', 513, -7) + struct.pack('<Hb', 1024, 100)
out = []
for off in range(0, len(rec), 3):
    out.append(struct.unpack('<Hb', rec[off:off + 3]))
print(out, sum(a for a, _ in out))
print(struct.pack('<4s', b'ab'), struct.unpack('<2B', b'\x07\x09'))
