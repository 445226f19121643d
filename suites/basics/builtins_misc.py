# min/max with key, any/all, map/filter, enumerate/zip, divmod, abs, sorted, reversed, chr/ord
words = ['pear', 'fig', 'banana', 'kiwi', 'apple']
print(min(words), max(words), min(words, key=len), max(words, key=len))
print(any(len(w) > 5 for w in words), all(len(w) > 2 for w in words))
print(list(map(len, words)), list(filter(lambda w: 'a' in w, words)))
print(list(enumerate(words[:3], 10)))
print(list(zip(words, range(3))))
print(sum(map(lambda p: p[0] * p[1], zip(range(5), range(5, 10)))))
print(divmod(100, 7), abs(-42), abs(3) == 3)
print(sorted(words, key=lambda w: (len(w), w)), list(reversed(words)))
print(''.join(chr(ord(c) + 1) for c in 'HAL'), [ord(c) for c in 'az'])
print(max(3, 9, 4), min([5, 2, 8]), sum([1, 2, 3], 10))
print(isinstance(words, list), callable(print), callable(3))
print(hasattr(words, 'append'), getattr(words, 'nope', 'default'))
it = iter([1, 2])
print(next(it), next(it))
try:
    next(it)
except StopIteration:
    print('exhausted')
