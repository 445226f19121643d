# a small stateful class: instance state, methods calling methods, __str__ and class-level counters
class Account:
    rate = 2
    opened = 0
    def __init__(self, owner, balance=0):
        self.owner = owner
        self.balance = balance
        self.history = []
        Account.opened += 1
    def deposit(self, amt):
        self.balance += amt
        self.history.append(('dep', amt))
        return self
    def withdraw(self, amt):
        if amt > self.balance:
            self.history.append(('refused', amt))
            return False
        self.balance -= amt
        self.history.append(('wd', amt))
        return True
    def interest(self):
        gained = self.balance * self.rate // 100
        return self.deposit(gained)
    def __str__(self):
        return '%s:%d' % (self.owner, self.balance)

a = Account('ada', 100)
b = Account('bo')
a.deposit(50).interest()
print(str(a), a.withdraw(500), a.withdraw(53), str(a))
b.deposit(10).deposit(5)
print(str(b), b.history, a.history)
Account.rate = 10
print(str(b.interest()), Account.opened, [str(x) for x in (a, b)])
