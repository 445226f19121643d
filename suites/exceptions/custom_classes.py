# user-defined exception hierarchy: args, attributes, catching by base class, str/repr
class AppError(Exception):
    pass

class ConfigError(AppError):
    def __init__(self, key, line):
        super().__init__(key, line)
        self.key = key
        self.line = line

class RetryError(AppError):
    pass

def ename(e):
    return repr(type(e))[8:-2]

def check(kind):
    if kind == 1:
        raise ConfigError('baud', 12)
    if kind == 2:
        raise RetryError('timeout', 3)
    if kind == 3:
        raise AppError()
    return 'ok'

for k in range(4):
    try:
        print(check(k))
    except ConfigError as e:
        print(ename(e), e.args, e.key, e.line, isinstance(e, AppError))
    except AppError as e:
        print(ename(e), e.args, len(e.args), isinstance(e, Exception))
print(issubclass(ConfigError, AppError), issubclass(RetryError, ConfigError))
print(repr(RetryError('x', 1)), str(RetryError('only')), repr(AppError()))
errs = []
for cls in (ConfigError, RetryError, AppError):
    try:
        raise cls('a', 'b') if cls is not ConfigError else cls('k', 0)
    except Exception as e:
        errs.append((ename(e), e.args))
print(errs)
