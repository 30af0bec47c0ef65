"""Seed sets on disk: reading, parsing and checking a set's files, no database needed.

Layout of one set, ``seeds/<set>/``, loaded in file-name order::

    auth.users.yaml          users created through GoTrue's admin API (see devenv.db.auth);
                             always first, so later files can reference their ids
    10_machines.csv          data file -> COPY into public.machines (header row = columns)
    20_app.favourites.json   data file -> schema-qualified table app.favourites
    30_fixups.sql            SQL, run statement by statement

Data files are CSV (with a header), JSON or YAML (a list of objects with the same keys); the table
is the file name minus an optional ``NN_`` order prefix and the extension. Other files (README,
generator scripts) are ignored; folders starting with ``_`` or ``.`` are not sets. A set may also
be given as a list of files (``[db] seed_paths``).

Loading a set into the database is devenv.db.seeds. This module imports no psycopg, and what it
needs only to read files (the SQL splitter, the users parser, hashlib, csv, YAML) where it reads
them: devenv.db.plan asks it which files the data step reads on every `devenv up`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devenv.errors import DatabaseError, UsageError

if TYPE_CHECKING:
    from devenv.db.auth import SeedUser
    from devenv.db.sqlsplit import Statement

DATA_EXT = {".csv": "csv", ".json": "json", ".yaml": "yaml", ".yml": "yaml"}
_TABLE_RE = re.compile(
    r"^(?:\d+[_-])?(?P<qual>[A-Za-z_][A-Za-z0-9_$]*(?:\.[A-Za-z_][A-Za-z0-9_$]*)?)$"
)
#: Bytes read at a time from a seed file (hashing it, copying a CSV into the table).
CHUNK = 1 << 20


class SeedError(DatabaseError):
    """A seed file is malformed or its rows were refused; the set was not loaded."""


@dataclass
class DataFile:
    path: Path
    schema: str
    table: str
    kind: str  # csv | json | yaml
    columns: list[str]
    rows: list[dict[str, Any]] | None = None  # json/yaml only
    csv_offset: int = 0  # bytes to skip (a UTF-8 BOM) before the header

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.table}"


@dataclass
class SqlFile:
    path: Path
    statements: list[Statement]


@dataclass
class SeedSet:
    name: str
    directory: Path
    hash: str
    users: list[SeedUser] = field(default_factory=list)
    users_file: Path | None = None
    files: list[DataFile | SqlFile] = field(default_factory=list)


def available_sets(seeds_dir: Path) -> list[str]:
    if not seeds_dir.is_dir():
        return []
    return sorted(
        p.name for p in seeds_dir.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))
    )


def set_files(directory: Path) -> list[Path]:
    return sorted(
        p
        for p in directory.iterdir()
        if p.is_file() and (p.suffix in DATA_EXT or p.suffix == ".sql")
    )


def set_hash(directory: Path, files: list[Path]) -> str:
    import hashlib  # here: OpenSSL's load is a cost a second `devenv up` need not pay

    h = hashlib.sha256()
    for p in files:
        h.update(p.name.encode() + b"\0")
        with p.open("rb") as f:
            while chunk := f.read(CHUNK):
                h.update(chunk.replace(b"\r\n", b"\n"))
        h.update(b"\0")
    return h.hexdigest()


def is_users_file(path: Path) -> bool:
    """An auth users file (``[NN_]auth.users.yaml``, ``.yml`` or ``.json``): a set with one needs
    GoTrue's admin API. Judged from the name, as :func:`read_set` files it."""
    if path.suffix not in (".yaml", ".yml", ".json"):
        return False
    m = _TABLE_RE.match(path.name[: -len(path.suffix)])
    return m is not None and m.group("qual") == "auth.users"


def _table_of(path: Path) -> tuple[str, str]:
    m = _TABLE_RE.match(path.name[: -len(path.suffix)])
    if not m:
        raise SeedError(
            f"{path}: cannot tell the table from the file name",
            "name data files [NN_]table.ext or [NN_]schema.table.ext, e.g. 10_machines.csv",
        )
    schema, _, table = m.group("qual").rpartition(".")
    return schema or "public", table


def _load_structured(path: Path, kind: str) -> Any:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SeedError(f"{path}: not UTF-8 text (byte {exc.start})", "save it as UTF-8") from None
    if kind == "json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise SeedError(
                f"{path}:{exc.lineno}: not valid JSON: {exc.msg}", "fix the file"
            ) from None
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SeedError(f"{path}{line}: not valid YAML: {problem}", "fix the file") from None


def _read_data_file(path: Path) -> DataFile:
    kind = DATA_EXT[path.suffix]
    schema, table = _table_of(path)
    if kind == "csv":
        import csv

        with path.open("rb") as f:
            head = f.read(3)
        offset = 3 if head == b"\xef\xbb\xbf" else 0
        try:
            with path.open(encoding="utf-8", newline="") as f:
                f.seek(offset)
                header = next(csv.reader(f), None)
        except UnicodeDecodeError as exc:
            raise SeedError(
                f"{path}: not UTF-8 text (byte {exc.start})", "save it as UTF-8"
            ) from None
        except csv.Error as exc:
            raise SeedError(f"{path}:1: unreadable CSV header: {exc}", "fix the file") from None
        if not header or not any(h.strip() for h in header):
            raise SeedError(
                f"{path}:1: no header row",
                "the first line must name the columns, e.g. id,name,price_cents",
            )
        cols = [h.strip() for h in header]
        blank = [i + 1 for i, c in enumerate(cols) if not c]
        if blank:
            raise SeedError(f"{path}:1: header column {blank[0]} is empty", "name every column")
        _no_duplicates(path, cols)
        return DataFile(path, schema, table, kind, cols, csv_offset=offset)
    data = _load_structured(path, kind)
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise SeedError(
            f"{path}: expected a list of objects (one per row)",
            'e.g. [{"id": 1, "name": "lathe"}, ...]',
        )
    cols = list(data[0]) if data else []
    expected = set(cols)
    for i, row in enumerate(data, 1):
        if set(row) != expected:
            missing = sorted(expected - set(row))
            extra = sorted(set(row) - expected)
            what = (
                f"lacks {', '.join(map(repr, missing))}"
                if missing
                else f"has extra {', '.join(map(repr, extra))}"
            )
            raise SeedError(
                f"{path}: row {i}{yaml_line(path, kind, i)} {what} (row 1 has"
                f" {', '.join(map(repr, cols))})",
                "give every row the same keys; use null for NULL",
            )
    return DataFile(path, schema, table, kind, [str(c) for c in cols], rows=data)


def _no_duplicates(path: Path, cols: list[str]) -> None:
    seen: set[str] = set()
    for c in cols:
        if c in seen:
            raise SeedError(f"{path}:1: column {c!r} appears twice in the header", "remove one")
        seen.add(c)


def yaml_line(path: Path, kind: str, row: int) -> str:
    """`` (line N)`` for YAML rows (1-based), found only when an error needs it."""
    if kind != "yaml":
        return ""
    import yaml

    try:
        node = yaml.compose(path.read_text(encoding="utf-8-sig"))
    except yaml.YAMLError:
        return ""
    if isinstance(node, yaml.SequenceNode) and 0 < row <= len(node.value):
        return f" (line {node.value[row - 1].start_mark.line + 1})"
    return ""


#: Sets given as explicit files (``[db] seed_paths``) rather than as folders: {set: files}.
SetFiles = Mapping[str, Sequence[Path]]


def set_exists(seeds_dir: Path, name: str, files: SetFiles | None = None) -> bool:
    return bool(files and name in files) or (seeds_dir / name).is_dir()


def read_set(seeds_dir: Path, name: str, files: SetFiles | None = None) -> SeedSet:
    """Read and check one set's files (no database needed): ``seeds_dir/name/``, or the files
    ``files[name]`` lists (in that order) when given."""
    from devenv.db import auth as authmod
    from devenv.db import sqlsplit

    if files and name in files:
        paths = list(files[name])
        missing = [p for p in paths if not p.is_file()]
        if missing:
            raise UsageError(
                f"seed file {missing[0]} (from [db] seed_paths) does not exist",
                "create it, or fix [db] seed_paths in devenv.toml",
            )
        bad = [p for p in paths if p.suffix not in DATA_EXT and p.suffix != ".sql"]
        if bad:
            raise UsageError(
                f"seed file {bad[0]} (from [db] seed_paths) is not SQL, CSV, JSON or YAML",
                "list only .sql, .csv, .json, .yaml files",
            )
        directory = paths[0].parent if paths else seeds_dir
    else:
        directory = seeds_dir / name
        if not directory.is_dir() or name.startswith(("_", ".")):
            known = available_sets(seeds_dir)
            raise UsageError(
                f"no seed set {name!r} in {seeds_dir}",
                f"known sets: {', '.join(known)}"
                if known
                else f"create {directory}/ with seed files",
            )
        paths = set_files(directory)
    s = SeedSet(name, directory, set_hash(directory, paths))
    for p in paths:
        if p.suffix == ".sql":
            try:
                stmts = sqlsplit.split(sqlsplit.read_sql(p, SeedError))
            except sqlsplit.SplitError as exc:
                raise SeedError(f"{p}:{exc.line}: {exc}", "close it and run again") from None
            s.files.append(SqlFile(p, stmts))
            continue
        if _table_of(p) == ("auth", "users"):
            if s.users_file is not None:
                raise SeedError(
                    f"{p}: a second auth users file (first: {s.users_file.name})",
                    "keep the set's users in one file",
                )
            s.users_file = p
            s.users = authmod.parse_users(p, _load_structured(p, DATA_EXT[p.suffix]))
            continue
        s.files.append(_read_data_file(p))
    return s


def rows_of(df: DataFile) -> Iterator[dict[str, str]]:
    """A data file's rows as text by column (``""`` for null), as read for an error message."""
    if df.rows is not None:
        for r in df.rows:
            yield {k: "" if v is None else str(v) for k, v in r.items()}
        return
    import csv

    with df.path.open(encoding="utf-8", newline="") as f:
        f.seek(df.csv_offset)
        reader = csv.reader(f)
        next(reader, None)
        for values in reader:
            yield dict(zip(df.columns, values, strict=False))


__all__ = [
    "CHUNK",
    "DATA_EXT",
    "DataFile",
    "SeedError",
    "SeedSet",
    "SetFiles",
    "SqlFile",
    "available_sets",
    "is_users_file",
    "read_set",
    "rows_of",
    "set_exists",
    "set_files",
    "set_hash",
    "yaml_line",
]
