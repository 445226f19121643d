# for/while with break/continue/else, nested loops, range steps
def first_divisor(n):
    for d in range(2, n):
        if n % d == 0:
            break
    else:
        return None
    return d

print([first_divisor(n) for n in (7, 9, 15, 49, 97)])

total = 0
i = 0
while i < 20:
    i += 1
    if i % 3 == 0:
        continue
    total += i
else:
    print('while done', i, total)

pairs = []
for a in range(1, 5):
    for b in range(a, 5):
        if a * b > 6:
            break
        pairs.append((a, b))
print(pairs)
print(list(range(10, -10, -4)), sum(range(0, 100, 7)), len(range(3, 30, 5)))
acc = 1
for k in range(1, 11):
    acc = (acc * 3 + k) % 1009
print('acc', acc)
