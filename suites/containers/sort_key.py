# sorting: key functions, reverse, tuple keys, sort in place vs sorted. MicroPython's sort is not
# stable, so every key here is free of ties (the output must not depend on the algorithm)
people = [('ann', 31), ('bob', 25), ('cy', 31), ('dee', 19), ('ed', 25)]
print(sorted(people))
print(sorted(people, key=lambda p: (p[1], p[0])))
print(sorted(people, key=lambda p: (p[1], p[0]), reverse=True))
print(sorted(people, key=lambda p: (-p[1], p[0])))
print([n for n, _ in sorted(people, key=lambda p: (len(p[0]), p[0]))])
nums = [5, -2, 9, -7, 0, 3]
nums.sort()
print(nums)
nums.sort(key=abs)
print(nums)
nums.sort(reverse=True)
print(nums)
words = 'The quick brown Fox jumps over the lazy Dog'.split()
print(sorted(words), sorted(words, key=lambda w: (w.lower(), w)))
print(sorted('hilrig'), sorted({3: 'c', 1: 'a', 2: 'b'}.items()))
def median(xs):
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) // 2
print(median([7, 1, 5]), median([8, 2, 4, 6]))
