"""A stand-in workload for ``kind = command``: count the primes below N and write them to a file.

One task per argument (examples/command/primes.ini): each writes ``primes-N.txt`` into its task
folder, which the run collects; it takes a fraction of a second for the example's arguments.
"""

import argparse
import math


def primes_below(limit: int) -> list[int]:
    sieve = bytearray([1]) * limit
    sieve[:2] = b"\x00\x00"
    for number in range(2, math.isqrt(limit) + 1):
        if sieve[number]:
            sieve[number * number :: number] = bytearray(len(range(number * number, limit, number)))
    return [n for n in range(limit) if sieve[n]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("limit", type=int)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    found = primes_below(args.limit)
    with open(args.out, "w") as out:
        out.write("\n".join(map(str, found)) + "\n")
    print(f"{len(found)} primes below {args.limit}")


if __name__ == "__main__":
    main()
