"""devenv's @env-spec reading against the reference itself: the npm package
``@env-spec/parser`` 0.0.8 (the parser varlock uses), run by Node on the same text.

The package is installed once into ~/.cache/devenv-tests/ with ``npm install --prefix`` from
whatever registry npm is configured with. Without Node the test skips locally and fails in CI
(tests/conftest.py's ``unavailable``). Values are compared through the package's own
``simpleResolver`` (references resolve to earlier keys of the same file), the same rule
:func:`devenv.envfile.envspec_reader.resolve` follows when a file is read on its own.
"""

from __future__ import annotations

import json
import random
import subprocess
from pathlib import Path
from typing import Any

import pytest

from devenv.envfile import envspec_reader
from tests.support.npm import installed

PACKAGE = "@env-spec/parser@0.0.8"

_DUMP = r"""
import { parseEnvSpecDotEnvFile } from '%(dist)s/index.mjs';
import { simpleResolver } from '%(dist)s/simple-resolver.mjs';
import fs from 'fs';
const texts = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const out = texts.map((text) => {
  let file;
  try { file = parseEnvSpecDotEnvFile(text); }
  catch (e) { return { error: e.location ? e.location.start.line : 0 }; }
  const keys = file.configItems.map((i) => i.key);
  const calls = file.configItems.filter((i) => i.value && i.value.name &&
    !['concat', 'ref', 'fallback'].includes(i.value.name)).map((i) => i.key);
  if (calls.length) return { keys, calls };
  const res = simpleResolver(file, { env: {} });
  const values = {};
  for (const k of Object.keys(res)) values[k] = res[k] === undefined ? null : String(res[k]);
  return { keys, values };
});
console.log(JSON.stringify(out));
"""


@pytest.fixture(scope="session")
def reference() -> Path:
    """The installed package's dist directory (installing it on first use)."""
    dist = "node_modules/@env-spec/parser/dist"
    return installed(PACKAGE, "env-spec-parser-0.0.8", f"{dist}/simple-resolver.mjs") / dist


def run_reference(dist: Path, texts: list[str], tmp_path: Path) -> list[dict[str, Any]]:
    script = tmp_path / "dump.mjs"
    script.write_text(_DUMP % {"dist": dist.as_posix()}, encoding="utf-8")
    data = tmp_path / "texts.json"
    data.write_text(json.dumps(texts), encoding="utf-8")
    proc = subprocess.run(
        ["node", str(script), str(data)], capture_output=True, text=True, timeout=120, check=True
    )
    result: list[dict[str, Any]] = json.loads(proc.stdout)
    return result


def read_like_devenv(text: str, *, as_0_0_8: bool = True) -> dict[str, Any]:
    statements, issues = envspec_reader.parse(text, as_0_0_8=as_0_0_8)
    if issues:
        return {"error": issues[0].line}
    keys = [s.key for s in statements]
    calls = [s.key for s in statements if s.call is not None]
    if calls:
        return {"keys": keys, "calls": calls}
    values: dict[str, str | None] = {}
    for s in statements:
        values[s.key] = envspec_reader.resolve(s.parts, lambda k: values.get(k))
    return {"keys": keys, "values": values}


CORPUS = [
    # empty, no value, empty string, spaces
    "A=\nB=''\nC=\"\"\nD=   \nE=undefined\nF= x  \t\n",
    # comments: inline without a space, with one, after quotes; blocks and dividers
    "A=foo#bar\nB=foo # bar\nC='x' # c\nD=\"y\"# c\n# comment\n# ---\nE=1\n\n# @required\nF=2\n",
    # quotes and escapes
    'A=\'it\\\'s\'\nB="say \\"hi\\""\nC=`tick \\` x`\nD="a\\nb"\nE=\'a\\nb\'\nF=`a\\nb`\n'
    'G="back\\\\slash"\nH=a\\nb\nI="tab\\tx"\n',
    # dollar escapes
    'A=x\nB=\\$A\nC="\\$A"\nD=\'\\$A\'\nE=\\${A}\nF=$$\nG="$"\n',
    # expansion: simple, braced, fallbacks, trimmed unquoted pieces, in quotes, not in single
    "A=one\nB=$A\nC=${A}\nD=pre ${A} post\nE=\"pre ${A} post\"\nF='pre ${A}'\nG=${NOPE:-def}\n"
    "H=${NOPE-def}\nI=${A:-def}\nJ=$A$A\nK=${A}x${NOPE}\nL=$A.b\nM=${NOPE:-}\nN=${A:=x}\n"
    "O=`$A`\nP=x${A}y\nQ=${NOPE}\n",
    # multi-line values
    'A="line one\nline two"\nB=\'one\ntwo\'\nC="""\ntriple \\n "" quote\n"""\n'
    'D=```\nticks\n```\nE="""first\nsecond"""\n',
    # export, spacing around the key, odd keys, CRLF
    "export A=1\nexport  B=2\n  C=3\nD =4\nE\t=\t5\nF.g-h=6\nexportI=7\n",
    "A=1\r\nB=\"two\"\r\nC='three'\r\n",
    # numbers and booleans print back as written
    "A=1\nB=1.0\nC=-1.50\nD=01\nE=true\nF=false\nG=1e3\nH=0x10\nI=9007199254740993\n",
    # unicode
    'A=é\nB="日本"\nC= \u00a0x\u00a0\n',
    # function-call values: parsed, not evaluated
    "A=fn(x)\nB=fn( x , k=y )\n",
    "A=a(b\nB=(x)\n",
    # lines the reference refuses
    "A=1\n  # indented\n",
    "  # @required\nA=1\n",
    "A\n",
    "A: b\n",
    "=x\n",
    'A="unterminated\nB=2\n',
    'A="a"junk\n',
    'A= "q"\n',
    "A=`x\ny`\n",
    'A="x\\\\"\n',
    "A=1 # ---\n",
    "A=1 # @ x\n",
    "# @\nA=1\n",
    "A=fn(x) junk\n",
    "\ufeffA=1\n",
    "A='''\nx\n'''\n",
    'A="""x"""\n',
]

_PIECES = [
    "A", "B", "=", "=", "x", " ", "\t", "#", " #", "'", '"', "`", "\\", "$", "$A", "${A}",
    "${B:-d}", "\n", "\n", "1", "true", "@req", "export ", "-", ".", "é", '"""', "(", ")",
    "@f(a, k=1)", "@t=x", ":", ",", "\r\n", "fn(", "# ",
]  # fmt: skip


def random_texts(n: int, seed: int = 1405) -> list[str]:
    """Lines built from the pieces the grammar cares about, each starting with a key."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        lines = []
        for k in range(rng.randint(1, 4)):
            body = "".join(rng.choice(_PIECES) for _ in range(rng.randint(0, 7)))
            if "$(" in body:
                body = body.replace("$(", "$ (")
            lines.append(f"K{k}={body}")
        text = "\n".join(lines) + rng.choice(["", "\n"])
        if any(ln and not ln.strip(" \t") for ln in text.replace("\r\n", "\n").split("\n")):
            continue  # a line of spaces: the one deliberate difference, tested on its own
        out.append(text)
    return out


def test_corpus_reads_as_the_reference_parser(reference: Path, tmp_path: Path) -> None:
    expected = run_reference(reference, CORPUS, tmp_path)
    for text, want in zip(CORPUS, expected, strict=True):
        got = read_like_devenv(text)
        if "error" in want:
            assert "error" in got, f"the reference refuses {text!r}, devenv reads {got}"
        else:
            assert got == want, f"{text!r}"


def test_generated_lines_read_as_the_reference_parser(reference: Path, tmp_path: Path) -> None:
    texts = [t for t in random_texts(600) if "$(" not in t]
    expected = run_reference(reference, texts, tmp_path)
    mismatches = []
    for text, want in zip(texts, expected, strict=True):
        got = read_like_devenv(text)
        same = ("error" in got) if "error" in want else got == want
        if not same:
            mismatches.append((text, want, got))
    assert mismatches == []


def test_whitespace_only_line_is_blank_unlike_0_0_8(reference: Path, tmp_path: Path) -> None:
    """The one deliberate difference in reading (docs/env.md): 0.0.8 refuses a line of
    spaces; varlock 1.20's parser, python-dotenv and Compose read it as blank, and so does
    devenv."""
    text = "A=1\n   \nB=2\n"
    (want,) = run_reference(reference, [text], tmp_path)
    assert "error" in want
    assert read_like_devenv(text) == {"keys": ["A", "B"], "values": {"A": "1", "B": "2"}}


def test_text_around_a_reference_unlike_0_0_8(reference: Path, tmp_path: Path) -> None:
    """The other deliberate difference: 0.0.8 trims the unquoted text around a reference;
    varlock 1.20 (``varlock load``) keeps it, and so does devenv."""
    text = "B=b\nA=a ${B} c\n"
    (want,) = run_reference(reference, [text], tmp_path)
    assert want["values"]["A"] == "abc"
    assert read_like_devenv(text, as_0_0_8=False)["values"]["A"] == "a b c"
    assert read_like_devenv(text)["values"]["A"] == "abc"  # the comparison mode above


def test_text_after_decorators_unlike_0_0_8(reference: Path, tmp_path: Path) -> None:
    """A third: varlock 1.20 reads text after a comment's decorators (warning that it is
    attached to the decorator before it); 0.0.8 refuses the file. devenv reads on."""
    text = "# @sensitive @required some words\nA=1 # @foo @bar trailing\n"
    (want,) = run_reference(reference, [text], tmp_path)
    assert "error" in want
    assert read_like_devenv(text)["error"] == 1  # the comparison mode
    assert read_like_devenv(text, as_0_0_8=False) == {"keys": ["A"], "values": {"A": "1"}}
