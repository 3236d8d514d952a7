"""Recursion 500 frames deep, then a CPU loop in leaf_spin() at the bottom. Prints 'ready'."""
import sys

sys.setrecursionlimit(5000)


def leaf_spin():
    print("ready", flush=True)
    x = 0
    while True:
        for i in range(1000):
            x += i


def descend(n):
    if n == 0:
        leaf_spin()
    else:
        descend(n - 1)


descend(int(sys.argv[1]) if len(sys.argv) > 1 else 500)
