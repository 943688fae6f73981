"""What checking results costs the engine thread (it runs in the window's process).

Results that are not of a plain type arrive pickled one by one; the engine thread checks that
each unpickles before storing the bytes (core/results/check.py ``check_pickled``), with a stand-in for
every class a pickle names, so it never imports the user's code. Measured here against the check
it replaced, ``pickle.loads`` of each in C (which imports the classes' modules), on 100,000
pickles of a tuple and of a dataclass, alternating the two, the median of ``--repeat`` rounds:

    python bench/bench_result_check.py [--repeat 9] [--json PATH]
"""

from __future__ import annotations

import collections  # noqa: E402
import pickle  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402

import _common  # noqa: F401  (puts src/ on sys.path)
from _common import machine_line, median, parser, table, write_json  # noqa: E402

from poolscope.core.results import CHECK_SLICE, check_pickled  # noqa: E402

COUNT = 100_000


@dataclass
class Point:
    x: int
    y: float


def check_by_loading(pickled: list[bytes]) -> bool:
    """The check before: every pickle built by pickle.loads, in C, a slice at a time."""
    try:
        for start in range(0, len(pickled), CHECK_SLICE):
            collections.deque(map(pickle.loads, pickled[start : start + CHECK_SLICE]), maxlen=0)
    except BaseException:  # noqa: BLE001
        return False
    return True


def main() -> None:
    args = parser(__doc__.splitlines()[0], repeat=9).parse_args()
    kinds = {"tuple (i, 2i, 'x')": lambda i: (i, 2 * i, "x"), "dataclass Point(i, i/3)": lambda i: Point(i, i / 3)}
    rows, targets = [], []
    for kind, make in kinds.items():
        pickled = [pickle.dumps(make(i), protocol=pickle.HIGHEST_PROTOCOL) for i in range(COUNT)]
        times: dict[str, list[float]] = {"pickle.loads": [], "check_pickled": []}
        for _ in range(args.repeat):
            for name, check in (("pickle.loads", check_by_loading), ("check_pickled", check_pickled)):
                began = time.perf_counter()
                assert check(pickled)
                times[name].append(time.perf_counter() - began)
        before, after = median(times["pickle.loads"]), median(times["check_pickled"])
        rows.append([kind, f"{before * 1e3:.1f} ms", f"{after * 1e3:.1f} ms", f"{after / before:.2f}x"])
        targets.append({"name": kind, "before_s": before, "after_s": after, "ratio": after / before})
    print(machine_line())
    print(f"checking {COUNT:,} results pickled one by one (median of {args.repeat})")
    print(table(["results", "pickle.loads (before)", "check_pickled (now)", "ratio"], rows))
    write_json(args.json, "result_check", targets)


if __name__ == "__main__":
    main()
