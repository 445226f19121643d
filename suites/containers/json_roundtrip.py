# json dumps/loads round trips (the top-level import makes boards without json skip)
import json
doc = {'name': 'mb', 'pins': [0, 1, 2], 'ok': True, 'none': None, 'ratio': 0.5, 'nested': {'k': [1, {'z': 'q'}]}}
text = json.dumps(doc)
back = json.loads(text)
print(back == doc, sorted(back), back['nested']['k'][1]['z'])
print(json.dumps([1, 'two', None, False]), json.dumps('quote"and\\slash'))
print(json.loads('[1, 2.5, "x", {"a": null}]'), json.loads(' 42 '))
try:
    json.loads('{bad json}')
except ValueError:
    print('ValueError on bad json')
