# ends with an UNCAUGHT KeyError from a dict lookup inside a function
PINS = {'led': 13, 'button': 5, 'buzzer': 0}

def pin_for(name):
    return PINS[name]

def wire(names):
    plan = []
    for n in names:
        plan.append((n, pin_for(n)))
        print('wired', n, '->', plan[-1][1])
    return plan

print('known', sorted(PINS), sum(PINS.values()))
wire(['led', 'buzzer', 'servo', 'button'])
