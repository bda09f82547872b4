"""Mutate the shipped specs at scale and count outcomes: built, validated (too large to allocate
here, checked statically), located error, other exception, time-out. The target is zero of the
last two.

    python tools/fuzz_specs.py 10000 [--seed 0] [--timeout 10]
"""
from __future__ import annotations

import argparse
import random
import signal
import sys
import time
import traceback
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from mutations import load_originals, mutated_text  # noqa: E402

import archspec  # noqa: E402
from archspec.compile import compile_graph  # noqa: E402
from archspec.errors import SpecError  # noqa: E402
from archspec.limits import check_memory  # noqa: E402

BUILD_LIMIT = 2_000_000


class TimedOut(Exception):
    pass


def on_alarm(signum: int, frame: object) -> None:
    raise TimedOut


def outcome(text: str) -> str:
    try:
        a = archspec.analyze(text)
        if check_memory(a.graph, a.shapes) > BUILD_LIMIT:
            return "validated"
        compile_graph(a.graph, a.shapes)
        return "built"
    except SpecError as e:
        return "located error" if e.loc is not None else "error without location"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("n", type=int, nargs="?", default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--timeout", type=int, default=10, help="seconds per mutant")
    args = p.parse_args()
    rng, originals, counts = random.Random(args.seed), load_originals(), Counter()
    signal.signal(signal.SIGALRM, on_alarm)
    shown, t0 = 0, time.time()
    for i in range(args.n):
        text = mutated_text(rng, originals)
        signal.alarm(args.timeout)
        try:
            counts[outcome(text)] += 1
        except TimedOut:
            counts["time-out"] += 1
        except Exception:  # what the fuzzer is looking for
            counts["other exception"] += 1
            if shown < 5:
                shown += 1
                print(f"--- mutant {i}:\n{text}\n{traceback.format_exc()}", file=sys.stderr)
        finally:
            signal.alarm(0)
        if (i + 1) % 1000 == 0:
            print(f"{i + 1:,} mutants, {time.time() - t0:.0f} s: {dict(counts)}", flush=True)
    total = sum(counts.values())
    print(f"\n{total:,} mutants in {time.time() - t0:.0f} s")
    for k in ("built", "validated", "located error", "error without location", "other exception", "time-out"):
        print(f"  {k:<24}{counts.get(k, 0):>8,}")
    sys.exit(1 if counts.get("other exception") or counts.get("time-out") or counts.get("error without location") else 0)


if __name__ == "__main__":
    main()
