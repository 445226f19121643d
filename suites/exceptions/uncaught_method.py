# ends with an UNCAUGHT ZeroDivisionError raised in a method called by another method
class Stats:
    def __init__(self, name):
        self.name = name
        self.values = []

    def add(self, *vs):
        self.values.extend(vs)
        return self

    def mean(self):
        return sum(self.values) // len(self.values)

    def report(self):
        return '%s: n=%d mean=%d' % (self.name, len(self.values), self.mean())

groups = [Stats('a').add(3, 5, 7), Stats('b').add(10, 20), Stats('empty'), Stats('c').add(1)]
for g in groups:
    print(g.report())
