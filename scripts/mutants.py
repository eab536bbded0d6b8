"""What `mutmut run` found, module by module (`nox -s mutants` runs it afterwards).

    python scripts/mutants.py                 the table: mutants, killed, survived, score
    python scripts/mutants.py --fail-under 95 the same; exit 1 if a module scores below 95 %
    python scripts/mutants.py survivors       the survivors' names, for `mutmut run NAME ...`
    python scripts/mutants.py pending [PATTERN]  survivors and mutants not yet checked
    python scripts/mutants.py diffs [PATTERN] each survivor's change, as equivalents are listed

It reads what mutmut left in ``mutants/`` (the ``.meta`` file beside each mutated module,
and the mutated module itself) and never runs a test. The score of a module is

    (killed + timed out) / (mutants - equivalent)

where an *equivalent* mutant is one no test can tell from the original because it behaves
the same: each is listed in ``scripts/equivalent_mutants.toml`` by the function and the
change (the lines it removes and adds), with the reason, so that the list survives a
renumbering of mutmut's mutants and a listed change that no longer survives is reported.
"""

from __future__ import annotations

import argparse
import difflib
import fnmatch
import json
import sys
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MUTANTS = ROOT / "mutants"
EQUIVALENTS = Path(__file__).resolve().parent / "equivalent_mutants.toml"
SOURCE = "src"

# mutmut's exit codes (mutmut/stats.py), folded into what the table shows.
KILLED = {1: "killed", 3: "killed"}
TIMEOUT = {36, 24, -24, 152, 255}
NO_TESTS = {5, 33}


@dataclass(frozen=True)
class Equivalent:
    function: str  # e.g. "pwrecovery._domain.tokens.x_generate_temporary_password"
    diff: str  # "- removed line / + added line", stripped, as `diffs` prints it
    reason: str


@dataclass
class Module:
    name: str
    counts: Counter[str] = field(default_factory=Counter)
    survivors: list[str] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)
    equivalent: list[tuple[str, Equivalent]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def score(self) -> float | None:
        judged = self.total - self.counts["equivalent"]
        if judged <= 0:
            return None
        return 100.0 * (self.counts["killed"] + self.counts["timeout"]) / judged


def status(exit_code: int | None) -> str:
    if exit_code is None:
        return "not checked"
    if exit_code in KILLED:
        return "killed"
    if exit_code in TIMEOUT:
        return "timeout"
    if exit_code in NO_TESTS:
        return "no tests"
    if exit_code == 0:
        return "survived"
    return "suspicious"


def load_equivalents() -> list[Equivalent]:
    if not EQUIVALENTS.exists():
        return []
    data = tomllib.loads(EQUIVALENTS.read_text(encoding="utf-8"))
    return [Equivalent(e["function"], e["diff"], e["reason"]) for e in data.get("mutant", [])]


def _function_lines(mutated: list[str], spans: dict[str, list[int]], name: str) -> list[str]:
    start, end = spans[name]
    return mutated[start - 1 : end]


def mutant_diff(key: str) -> str:
    """The change a mutant makes: its removed and added lines, stripped, in order."""
    module, _, mangled = key.rpartition(".")
    function, _, _number = mangled.rpartition("__mutmut_")
    path = MUTANTS / SOURCE / (module.replace(".", "/") + ".py")
    if not path.exists():
        path = MUTANTS / SOURCE / module.replace(".", "/") / "__init__.py"
    spans = json.loads(Path(f"{path}.spans").read_text(encoding="utf-8"))["spans"]
    mutated = path.read_text(encoding="utf-8").splitlines()
    original = _function_lines(mutated, spans, f"{function}__mutmut_orig")
    changed = _function_lines(mutated, spans, mangled)
    # The copies differ in their names on the def line; that is not the mutation.
    original = [line.replace(f"{function}__mutmut_orig", mangled) for line in original]
    parts = [
        f"{line[0]} {line[2:].strip()}"
        for line in difflib.ndiff(original, changed)
        if line[:2] in {"- ", "+ "} and line[2:].strip()
    ]
    return " / ".join(parts)


def meta_files() -> list[Path]:
    return sorted((MUTANTS / SOURCE).rglob("*.py.meta"))


def module_name(meta: Path) -> str:
    relative = meta.relative_to(MUTANTS / SOURCE).as_posix().removesuffix(".py.meta")
    return relative.removesuffix("/__init__").replace("/", ".")


def collect(equivalents: list[Equivalent]) -> tuple[list[Module], list[Equivalent]]:
    """Every module's counts, and the listed equivalents that matched no survivor."""
    used: set[Equivalent] = set()
    modules = []
    for meta in meta_files():
        data = json.loads(meta.read_text(encoding="utf-8"))
        module = Module(module_name(meta))
        for key, exit_code in sorted(data["exit_code_by_key"].items()):
            found = status(exit_code)
            if found in {"survived", "no tests"}:
                function = key.rpartition("__mutmut_")[0]
                diff = mutant_diff(key)
                match = next(
                    (e for e in equivalents if e.function == function and e.diff == diff), None
                )
                if match is not None:
                    found = "equivalent"
                    used.add(match)
                    module.equivalent.append((key, match))
                else:
                    module.survivors.append(key)
            if found == "not checked":
                module.unchecked.append(key)
            module.counts[found] += 1
        if module.total:
            modules.append(module)
    return modules, [e for e in equivalents if e not in used]


COMMANDS = ("table", "survivors", "pending", "diffs")
COLUMNS = ("killed", "timeout", "survived", "no tests", "equivalent", "not checked")


def table(modules: list[Module]) -> str:
    header = ["module", "mutants", *COLUMNS, "score"]
    rows = [header]
    for module in modules:
        score = module.score
        rows.append(
            [
                module.name,
                str(module.total),
                *(str(module.counts[c]) for c in COLUMNS),
                "-" if score is None else f"{score:.1f} %",
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def report(modules: list[Module], unused: list[Equivalent], fail_under: float | None) -> int:
    print(table(modules))
    print("\nscore = (killed + timeout) / (mutants - equivalent); 'no tests' counts as survived")
    for equivalent in unused:
        print(f"listed as equivalent, no such survivor: {equivalent.function}: {equivalent.diff}")
    low = [
        module.name
        for module in modules
        if fail_under is not None and module.score is not None and module.score < fail_under
    ]
    if low:
        print(f"below {fail_under} %: {', '.join(low)}")
    return 1 if low else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("command", nargs="?", default="table", choices=COMMANDS)
    parser.add_argument("pattern", nargs="?", default="*", help="mutant names (fnmatch)")
    parser.add_argument("--fail-under", type=float, default=None, metavar="PERCENT")
    options = parser.parse_args(argv)
    if not MUTANTS.is_dir():
        print("No mutants/ folder: run `mutmut run` (or `nox -s mutants`) first.")
        return 1
    modules, unused = collect(load_equivalents())
    if options.command == "table":
        return report(modules, unused, options.fail_under)
    for module in modules:
        keys = module.survivors + (module.unchecked if options.command == "pending" else [])
        for key in sorted(keys):
            if fnmatch.fnmatch(key, options.pattern):
                print(f"{key}\n    {mutant_diff(key)}" if options.command == "diffs" else key)
    return 0


if __name__ == "__main__":
    sys.exit(main())
