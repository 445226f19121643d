# single and multi-level inheritance, super() in __init__ and methods, overriding, isinstance
class Shape:
    count = 0
    def __init__(self, name):
        self.name = name
        Shape.count += 1
    def area(self):
        return 0
    def describe(self):
        return '%s area=%d' % (self.name, self.area())

class Rect(Shape):
    def __init__(self, w, h, name='rect'):
        super().__init__(name)
        self.w, self.h = w, h
    def area(self):
        return self.w * self.h

class Square(Rect):
    def __init__(self, s):
        super().__init__(s, s, 'square')
    def describe(self):
        return 'SQ ' + super().describe()

shapes = [Shape('blob'), Rect(3, 4), Square(5), Rect(2, 8, 'strip')]
for s in shapes:
    print(s.describe())
print(Shape.count, sum(s.area() for s in shapes))
print([isinstance(s, Rect) for s in shapes], issubclass(Square, Shape), issubclass(Shape, Rect))
class Base:
    def hello(self):
        return 'base'
class Left(Base):
    def hello(self):
        return 'left>' + super().hello()
class Right(Base):
    def hello(self):
        return 'right>' + super().hello()
class Child(Left, Right):
    pass
print(Child().hello(), isinstance(Child(), Right))
