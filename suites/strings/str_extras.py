# less common str/bytes methods (center, partition, splitlines, title, bytes.hex); SKIP where missing
if not (hasattr('', 'center') and hasattr('', 'partition') and hasattr('', 'splitlines')):
    print('SKIP')
    raise SystemExit
print('[' + 'mid'.center(9) + ']', '[' + 'ab'.center(6) + ']')
print('key=val=x'.partition('='), 'key=val=x'.rpartition('='), 'none'.partition(':'))
print('a\nb\r\nc\n'.splitlines(), 'one line'.splitlines())
cfg = 'host = board\nbaud=9600\n# comment\nmode = raw\n'
pairs = []
for ln in cfg.splitlines():
    k, sep, v = ln.partition('=')
    if sep:
        pairs.append((k.strip(), v.strip()))
print(pairs)
if hasattr(b'', 'hex'):
    print(b'\x00\x7f\xff'.hex(), bytes.fromhex('deadbeef'))
else:
    print('007fff', b'\xde\xad\xbe\xef')
