# ends with an UNCAUGHT OSError that propagates through a finally block and an except block.
# MicroPython 1.9 adds an extra traceback entry for each handler the exception passes through;
# newer versions do not.
def write(buf, n):
    try:
        if n > 3:
            raise OSError(28)
        buf.append(n)
    finally:
        buf.append('f')

def fill(buf):
    for n in range(6):
        try:
            write(buf, n)
        except KeyError:
            pass
        print(n, buf[-4:])

fill([])
