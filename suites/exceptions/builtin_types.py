# which built-in exception type each faulty operation raises, and the hierarchy between them
def ename(e):
    return repr(type(e))[8:-2]

ops = [
    lambda: 1 // 0,
    lambda: [1, 2][5],
    lambda: {'a': 1}['b'],
    lambda: int('nope'),
    lambda: 'a' + 1,
    lambda: undefined_name,
    lambda: (1).nope,
    lambda: next(iter([])),
    lambda: [].remove(3),
    lambda: {}.popitem(),
    lambda: (lambda x: x)(),
    lambda: bytes([300]),
]
for i, op in enumerate(ops):
    try:
        op()
        print(i, 'no error')
    except Exception as e:
        print(i, ename(e), isinstance(e, LookupError), isinstance(e, ArithmeticError))
print(issubclass(KeyError, LookupError), issubclass(IndexError, LookupError))
print(issubclass(ZeroDivisionError, ArithmeticError), issubclass(OverflowError, ArithmeticError))
print(issubclass(Exception, BaseException), issubclass(KeyboardInterrupt, Exception))
try:
    assert 1 + 1 == 3, 'math'
except AssertionError as e:
    print('AssertionError', e.args)
