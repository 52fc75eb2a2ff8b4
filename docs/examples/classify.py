"""A small program to record: python -m monviz run docs/examples/classify.py 5"""

import sys


def classify(n):
    total = 0
    for i in range(n):
        if i % 2:
            total += i
        else:
            total -= 1
    return "odd-heavy" if total > 0 else "even-heavy"


def main(argv):
    n = int(argv[1]) if len(argv) > 1 else 5
    print(classify(n))


if __name__ == "__main__":
    main(sys.argv)
