# collections.deque as a FIFO and bounded buffer; SKIP where the firmware has no deque
try:
    from collections import deque
except ImportError:
    print('SKIP')
    raise SystemExit
q = deque((), 5)
for i in range(8):
    q.append(i * i)
print(len(q), [q.popleft() for _ in range(3)], len(q))
q.append(100)
print(q.popleft(), q.popleft(), bool(q), q.popleft(), bool(q))
fifo = deque((), 10)
log = []
for cmd in 'a b - c - - d'.split():
    if cmd == '-':
        log.append(fifo.popleft())
    else:
        fifo.append(cmd)
print(log, len(fifo))
try:
    deque((), 2).popleft()
except IndexError:
    print('IndexError on empty deque')
