"""Why the kit reads JSON seed files with its own loop over ``json`` rather than ijson.

    /tmp/benchvenv/bin/python bench/json_streaming.py [--rows 500000]

Issue 14 asks for no hand-written code where a maintained library does the job, unless a
benchmark shows why. A JSON seed file is read item by item (``seeding/sources.py``,
``_JsonItems``: the standard library's ``JSONDecoder.raw_decode`` over 1 MiB blocks) so that
memory stays flat in the file's size and every error names the line its row starts on. This
reads one generated seed file three ways, each in a process of its own, and prints the time,
the peak memory above the imports and whether a row's line is known:

- the kit's reader;
- ijson (``ijson.items(f, "item")``, its C backend when built): streams, but reports no
  line per item, which the seeds' one-line errors (``seed X (file line N): ...``) need;
- ``json.load``: the whole file and every row in memory at once.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
KIT_SRC = REPO / "{{cookiecutter.project_slug}}" / "src"

# Each reader counts the items of the file in argv[1]; the harness prints the seconds and the
# peak memory above what the interpreter and the imports (the same for all three) hold.
IMPORTS = "import json, ijson\nfrom groundwork.seeding.sources import _JsonItems"
READERS = {
    "kit (_JsonItems over json.raw_decode)": """
with open(path, encoding="utf-8") as handle:
    count = sum(1 for _line, _item in _JsonItems(handle, lambda line, message: ValueError(message)))
""",
    "ijson.items (backend: {backend})": """
with open(path, "rb") as handle:
    count = sum(1 for _item in ijson.items(handle, "item", use_float=True))
""",
    "json.load (whole file)": """
with open(path, encoding="utf-8") as handle:
    count = len(json.load(handle))
""",
}
HARNESS = """
import resource, sys, time
sys.path.insert(0, {kit!r})
{imports}
path = sys.argv[1]
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # the interpreter and its imports
start = time.perf_counter()
{body}
seconds = time.perf_counter() - start
print(count, seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
"""


def write_seed(path: Path, rows: int) -> None:
    """A seed file shaped like the examples': a list of flat objects, one per line."""
    rng = random.Random(7)
    with path.open("w", encoding="utf-8") as out:
        out.write("[\n")
        for number in range(rows):
            row = {
                "id": number,
                "code": f"C{number:07d}",
                "name": f"Customer {rng.randrange(10**9)} of Zürich",
                "balance": round(rng.uniform(-1000, 1000), 2),
                "active": number % 3 != 0,
                "notes": None if number % 5 else 'called twice, "urgent"',
            }
            out.write(("  " if number == 0 else ", ") + json.dumps(row, ensure_ascii=False) + "\n")
        out.write("]\n")


def measure(body: str, path: Path) -> tuple[int, float, float]:
    code = HARNESS.format(kit=str(KIT_SRC), imports=IMPORTS, body=body)
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True
    )
    count, seconds, peak_kib = done.stdout.split()
    return int(count), float(seconds), int(peak_kib) / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=500_000)
    args = parser.parse_args()
    try:
        import ijson
    except ImportError:
        sys.exit("ijson is not installed: pip install -r bench/requirements.txt")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "customers.json"
        write_seed(path, args.rows)
        size = path.stat().st_size / 2**20
        print(f"{args.rows:,} rows, {size:.0f} MiB of JSON; best of 3 runs each")
        print(f"{'reader':<42} {'seconds':>8} {'+peak MiB':>9}  line per row")
        for label, body in READERS.items():
            runs = [measure(body, path) for _ in range(3)]
            count, seconds, peak = min(runs, key=lambda run: run[1])
            assert count == args.rows, (label, count)
            lines = "yes" if label.startswith("kit") else "no"
            name = label.format(backend=ijson.backend)
            print(f"{name:<42} {seconds:8.2f} {peak:9.0f}  {lines}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
