# list methods: append/extend/insert/pop/remove/index/count/reverse/copy, slices, del
a = [5, 3, 8]
a.append(1)
a.extend([9, 3])
a.insert(0, 7)
a.insert(-1, 4)
print(a, len(a))
print(a.pop(), a.pop(0), a.pop(2), a)
a.remove(3)
print(a, a.index(9), a.count(3), 3 in a, 42 in a)
a.reverse()
print(a)
b = a[:]
b[0] = 'x'
print(a[0] != b[0], a == b[:0] + a)
c = list(range(10))
del c[2:5]
del c[-1]
c[1:3] = ['a', 'b', 'c']
print(c, c[::3], c[1::2])
nested = [[0] * 3 for _ in range(3)]
for i in range(3):
    nested[i][i] = i + 1
print(nested, [row[::-1] for row in nested])
print([1, 2] * 2, [[1]] * 2, sum([[1], [2, 3]], []), max([[1, 2], [1, 3], [0, 9]]))
try:
    [].pop()
except IndexError:
    print('IndexError on empty pop')
