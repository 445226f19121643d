# int.from_bytes / int.to_bytes in both byte orders, round trips and checksums
data = bytes([0x12, 0x34, 0x56, 0x78])
print(int.from_bytes(data, 'big'), int.from_bytes(data, 'little'))
print(int.from_bytes(b'\x00\x01', 'big'), int.from_bytes(b'', 'big'))
for n in (0, 1, 255, 256, 65535, 1000000):
    le = n.to_bytes(4, 'little')
    be = n.to_bytes(4, 'big')
    print(n, le, be, int.from_bytes(le, 'little') == n == int.from_bytes(be, 'big'))
print((1 << 40).to_bytes(8, 'little'), int.from_bytes(b'\xff' * 9, 'big'))
s = 0
for i in range(0, len(data), 2):
    s += int.from_bytes(data[i:i + 2], 'big')
print('words sum', s, hex(s))
print(bytes(reversed(data)) == (int.from_bytes(data, 'big')).to_bytes(4, 'little'))
