# micropython.heap_lock: allocation raises MemoryError while locked, works again after unlock
import micropython

def try_alloc(n):
    ok = 0
    micropython.heap_lock()
    try:
        b = bytearray(n)
        ok = 1
    except MemoryError:
        ok = -1
    micropython.heap_unlock()
    return ok

results = [try_alloc(n) for n in (16, 100)]
print(results)
def small_math(a):
    micropython.heap_lock()
    b = a + 2
    c = b * 10 - a
    micropython.heap_unlock()
    return c

print('small-int arithmetic needs no heap:', small_math(1), small_math(40))
print([try_alloc(n) for n in (1,)], len(bytearray(100)))
