# micropython module functions whose results are comparable: opt_level round trip, stack_use relation
import micropython
lvl = micropython.opt_level()
micropython.opt_level(1)
print(micropython.opt_level())
micropython.opt_level(lvl)
print(micropython.opt_level() == lvl)
def depth(n):
    if n == 0:
        return micropython.stack_use()
    return depth(n - 1)
shallow = micropython.stack_use()
deep = depth(3)
print('stack grows with calls:', deep > shallow)
print(micropython.const(40) + 2, callable(micropython.mem_info))
