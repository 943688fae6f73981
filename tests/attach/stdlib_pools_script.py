"""An unmodified script written against the standard library's process pools (the kind
``poolscope watch`` runs): squares with multiprocessing.Pool, cubes with ProcessPoolExecutor.

    python stdlib_pools_script.py N [OUT.json]
"""

import json
import multiprocessing
import sys
from concurrent.futures import ProcessPoolExecutor


def square(x):
    return x * x


def cube(x):
    return x * x * x


if __name__ == "__main__":
    n = int(sys.argv[1])
    with multiprocessing.Pool(2) as pool:
        squares = pool.map(square, range(n))
    with ProcessPoolExecutor(max_workers=2) as executor:
        cubes = list(executor.map(cube, range(n)))
    report = {"squares": squares, "cubes": cubes, "pool": type(pool).__module__ + "." + type(pool).__name__,
              "executor": type(executor).__module__ + "." + type(executor).__name__, "argv": sys.argv[1:]}
    if len(sys.argv) > 2:
        with open(sys.argv[2], "w") as out:
            json.dump(report, out)
    else:
        print(json.dumps(report))
