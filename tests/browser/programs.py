"""Programs the browser tests record: one source of truth for both hosts' tests."""

#: A loop with a branch each way, and a value whose repr is HTML that must stay text.
SMALL = '''\
class Evil:
    def __repr__(self):
        return "<img src=x onerror=alert(1)>"


def classify(n):
    total = 0
    for i in range(n):
        if i % 2:
            total += i
        else:
            total -= 1
    return Evil() if total < 0 else total


result = classify(3)
'''
