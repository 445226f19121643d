# ends with an UNCAUGHT custom exception (subclass of a custom base) carrying two args
class DeviceError(Exception):
    pass

class ReplyTimeout(DeviceError):
    pass

class Device:
    def __init__(self, replies):
        self.replies = replies
        self.sent = 0

    def request(self, cmd):
        self.sent += 1
        reply = self.replies.get(cmd)
        if reply is None:
            raise ReplyTimeout(cmd, self.sent)
        return reply

dev = Device({'id': 'mb1', 'temp': 21, 'ver': 2})
for cmd in ('id', 'temp', 'ver'):
    print(cmd, '=', dev.request(cmd))
try:
    dev.request('nope')
except DeviceError as e:
    print('handled once', e.args)
dev.request('reset')
