#!/usr/bin/env python3
"""Writes a key log that names the right connections but holds the wrong secrets.

    swap_secrets.py RIGHT.keys OTHER.keys > WRONG.keys

RIGHT and OTHER are NSS key logs (`LABEL CLIENT_RANDOM SECRET` lines) of two runs of the same
clients, in the same order: the n-th client random of RIGHT is paired with the n-th of OTHER.
Each line of RIGHT is written back with its label and client random and the secret OTHER has
under the same label for the paired connection: real secrets, of the right size, that do not
decrypt the connection. Comment lines are kept. Fails if OTHER lacks a label RIGHT has.
"""
import sys


def read(path):
    """The key log's lines as (label, client random, secret) and its client randoms in order."""
    lines, randoms = [], []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) != 3 or line.startswith("#"):
                lines.append((line.rstrip("\n"), None, None))
                continue
            lines.append(tuple(parts))
            if parts[1] not in randoms:
                randoms.append(parts[1])
    return lines, randoms


def main():
    right, right_randoms = read(sys.argv[1])
    other, other_randoms = read(sys.argv[2])
    if len(other_randoms) < len(right_randoms):
        sys.exit(f"swap_secrets.py: {sys.argv[2]} has {len(other_randoms)} connections, "
                 f"{sys.argv[1]} {len(right_randoms)}")
    pair = dict(zip(right_randoms, other_randoms))
    secrets = {(label, random): secret for label, random, secret in other if random}
    for label, random, secret in right:
        if random is None:
            print(label)
            continue
        wrong = secrets.get((label, pair[random]))
        if wrong is None or len(wrong) != len(secret) or wrong == secret:
            sys.exit(f"swap_secrets.py: no other secret of the same size for {label} {random}")
        print(label, random, wrong)


if __name__ == "__main__":
    main()
