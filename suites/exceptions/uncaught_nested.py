# ends with an UNCAUGHT ValueError raised three calls deep (traceback: <module>, load, parse, check)
def check(field, value):
    if value < 0:
        raise ValueError('negative', field, value)
    return value * 2

def parse(record):
    out = {}
    for field in sorted(record):
        out[field] = check(field, record[field])
    return out

def load(records):
    result = []
    for r in records:
        parsed = parse(r)
        print('parsed', sorted(parsed.items()))
        result.append(parsed)
    return result

data = [{'a': 1, 'b': 2}, {'x': 5}, {'k': 3, 'm': -4}, {'z': 9}]
print('loading', len(data), 'records')
load(data)
print('never printed')
