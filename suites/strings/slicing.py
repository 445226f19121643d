# string indexing and slicing with negative and out-of-range bounds (step 1), slice objects
s = 'micropython'
print(s[0], s[-1], s[5], s[-6])
print(s[:5], s[5:], s[-6:], s[:-6], s[2:-2], s[3:3])
print(s[100:], s[-100:3], s[5:100], repr(s[8:2]))
print([s[i:i + 3] for i in range(0, len(s), 3)])
lo, hi = 1, 4
print(s[lo:hi], [1, 2, 3, 4, 5][lo:hi])
try:
    s[20]
except IndexError:
    print('IndexError')
rev = ''
for ch in s:
    rev = ch + rev
print(rev, rev == ''.join(reversed(s)))
words = 'the quick brown fox'
print(' '.join(w[0].upper() + w[1:] for w in words.split()))
print([w[-2:] for w in words.split()], words[4:9] + words[-3:])
