"""Grammar mode: ``response_format: {"type": "grammar", "grammar": "<GBNF>"}``.

The mock parses the GBNF subset apps use (rules ``name ::= ...``, alternatives ``|``, string
literals with escapes, character classes ``[a-z]`` / ``[^"]``, rule references, groups, and the
repetitions ``*``, ``+``, ``?``, ``{m}``, ``{m,}``, ``{m,n}``; ``#`` comments) and generates an
output the grammar accepts, deterministically from the request's seed. Generation starts at
``root`` and, once deep or long, takes the cheapest way out so it always ends.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass
from functools import lru_cache

_RULE_HEAD = re.compile(r"^[ \t]*([A-Za-z0-9_-]+)[ \t]*::=", re.MULTILINE)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "[": "[", "]": "]", "-": "-"}


class GrammarError(ValueError):
    """The grammar does not parse (the message says where)."""


@dataclass(frozen=True, slots=True)
class Lit:
    text: str


@dataclass(frozen=True, slots=True)
class CharClass:
    ranges: tuple[tuple[str, str], ...]
    negated: bool


@dataclass(frozen=True, slots=True)
class Ref:
    name: str


@dataclass(frozen=True, slots=True)
class Seq:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Alt:
    options: tuple[Seq, ...]


@dataclass(frozen=True, slots=True)
class Rep:
    node: Node
    lo: int
    hi: int | None


Node = Lit | CharClass | Ref | Seq | Alt | Rep


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.end = len(text)

    def error(self, message: str) -> GrammarError:
        line = self.text.count("\n", 0, self.pos) + 1
        return GrammarError(f"{message} at line {line}")

    def skip(self) -> None:
        t = self.text
        while self.pos < self.end:
            c = t[self.pos]
            if c == "#":
                while self.pos < self.end and t[self.pos] != "\n":
                    self.pos += 1
            elif c in " \t\r\n":
                self.pos += 1
            else:
                break

    def name(self) -> str:
        start = self.pos
        while self.pos < len(self.text) and (
            self.text[self.pos].isalnum() or self.text[self.pos] in "-_"
        ):
            self.pos += 1
        if start == self.pos:
            raise self.error("expected a rule name")
        return self.text[start : self.pos]

    def rules(self) -> dict[str, Alt]:
        # A rule runs until the next line that starts `name ::=`; inside it newlines are spaces.
        heads = list(_RULE_HEAD.finditer(self.text))
        if not heads or self.text[: heads[0].start()].strip(" \t\r\n"):
            first = self.text.lstrip().split("\n", 1)[0]
            if not first.startswith("#"):
                raise GrammarError("expected a rule 'name ::= ...' at line 1")
        rules: dict[str, Alt] = {}
        for k, head in enumerate(heads):
            end = heads[k + 1].start() if k + 1 < len(heads) else len(self.text)
            self.pos = head.end()
            self.end = end
            rules[head.group(1)] = self.alternatives()
            self.skip()
            if self.pos < end:
                raise self.error(f"unexpected {self.text[self.pos]!r}")
        if "root" not in rules:
            raise GrammarError("the grammar has no 'root' rule")
        for node in rules.values():
            self._check_refs(node, rules)
        return rules

    def _check_refs(self, node: Node, rules: dict[str, Alt]) -> None:
        if isinstance(node, Ref) and node.name not in rules:
            raise GrammarError(f"rule '{node.name}' is used but not defined")
        if isinstance(node, Alt):
            for option in node.options:
                self._check_refs(option, rules)
        elif isinstance(node, Seq):
            for item in node.items:
                self._check_refs(item, rules)
        elif isinstance(node, Rep):
            self._check_refs(node.node, rules)

    def alternatives(self) -> Alt:
        options = [self.sequence()]
        while True:
            self.skip()
            if self.pos < self.end and self.text[self.pos] == "|":
                self.pos += 1
                options.append(self.sequence())
            else:
                return Alt(tuple(options))

    def sequence(self) -> Seq:
        items: list[Node] = []
        while True:
            self.skip()
            if self.pos >= self.end or self.text[self.pos] in "|)":
                return Seq(tuple(items))
            items.append(self.repeated(self.atom()))

    def atom(self) -> Node:
        t = self.text
        c = t[self.pos]
        if c == '"':
            return Lit(self.literal())
        if c == "[":
            return self.char_class()
        if c == "(":
            self.pos += 1
            inner = self.alternatives()
            self.skip()
            if self.pos >= len(t) or t[self.pos] != ")":
                raise self.error("expected ')'")
            self.pos += 1
            return inner
        if c.isalnum() or c in "-_":
            return Ref(self.name())
        raise self.error(f"unexpected {c!r}")

    def _char(self) -> str:
        t = self.text
        c = t[self.pos]
        if c != "\\":
            self.pos += 1
            return c
        nxt = t[self.pos + 1 : self.pos + 2]
        if nxt == "x":
            self.pos += 4
            return chr(int(t[self.pos - 2 : self.pos], 16))
        if nxt == "u":
            self.pos += 6
            return chr(int(t[self.pos - 4 : self.pos], 16))
        if nxt in _ESCAPES:
            self.pos += 2
            return _ESCAPES[nxt]
        raise self.error(f"unknown escape '\\{nxt}'")

    def literal(self) -> str:
        self.pos += 1
        out: list[str] = []
        while True:
            if self.pos >= len(self.text):
                raise self.error("unterminated string literal")
            if self.text[self.pos] == '"':
                self.pos += 1
                return "".join(out)
            out.append(self._char())

    def char_class(self) -> CharClass:
        self.pos += 1
        negated = self.text.startswith("^", self.pos)
        if negated:
            self.pos += 1
        ranges: list[tuple[str, str]] = []
        while True:
            if self.pos >= len(self.text):
                raise self.error("unterminated character class")
            if self.text[self.pos] == "]":
                self.pos += 1
                break
            lo = self._char()
            hi = lo
            if self.text.startswith("-", self.pos) and not self.text.startswith("-]", self.pos):
                self.pos += 1
                hi = self._char()
            if hi < lo:
                raise self.error(f"bad range {lo!r}-{hi!r}")
            ranges.append((lo, hi))
        if not ranges and not negated:
            raise self.error("empty character class")
        return CharClass(tuple(ranges), negated)

    def repeated(self, node: Node) -> Node:
        t = self.text
        while self.pos < len(t) and t[self.pos] in "*+?{":
            c = t[self.pos]
            self.pos += 1
            if c == "*":
                node = Rep(node, 0, None)
            elif c == "+":
                node = Rep(node, 1, None)
            elif c == "?":
                node = Rep(node, 0, 1)
            else:
                end = t.find("}", self.pos)
                if end < 0:
                    raise self.error("unterminated '{'")
                spec = t[self.pos : end]
                self.pos = end + 1
                try:
                    if "," in spec:
                        a, b = spec.split(",", 1)
                        lo, hi = int(a.strip()), (int(b.strip()) if b.strip() else None)
                    else:
                        lo = hi = int(spec.strip())
                except ValueError:
                    raise self.error(f"bad repetition '{{{spec}}}'") from None
                if hi is not None and hi < lo:
                    raise self.error(f"bad repetition '{{{spec}}}'")
                node = Rep(node, lo, hi)
        return node


@lru_cache(maxsize=64)
def parse(text: str) -> dict[str, Alt]:
    """Parse a GBNF grammar into its rules; GrammarError says what and where."""
    try:
        return _Parser(text).rules()
    except IndexError:
        raise GrammarError("the grammar ends in the middle of a rule") from None


class _Gen:
    def __init__(self, rules: dict[str, Alt], rng: random.Random, budget: int) -> None:
        self.rules = rules
        self.rng = rng
        self.budget = budget
        self.cost = self._costs()

    def _costs(self) -> dict[str, float]:
        """The shortest output of each rule (a fixed point, so recursion is handled)."""
        cost = dict.fromkeys(self.rules, math.inf)
        changed = True
        while changed:
            changed = False
            for name, node in self.rules.items():
                c = self._min(node, cost)
                if c < cost[name]:
                    cost[name], changed = c, True
        return cost

    def _min(self, node: Node, cost: dict[str, float]) -> float:
        if isinstance(node, Lit):
            return len(node.text)
        if isinstance(node, CharClass):
            return 1
        if isinstance(node, Ref):
            return cost[node.name]
        if isinstance(node, Seq):
            return sum(self._min(i, cost) for i in node.items)
        if isinstance(node, Alt):
            return min(self._min(o, cost) for o in node.options)
        return node.lo * self._min(node.node, cost) if node.lo else 0

    def _char(self, node: CharClass) -> str:
        if not node.negated:
            lo, hi = self.rng.choice(node.ranges)
            return chr(self.rng.randint(ord(lo), ord(hi)))
        pool = [
            ch
            for ch in "abcdefghijklmnopqrstuvwxyz0123456789 "
            if not any(lo <= ch <= hi for lo, hi in node.ranges)
        ]
        if not pool:
            raise GrammarError("a negated character class excludes every printable character")
        return self.rng.choice(pool)

    def gen(self, node: Node, out: list[str], depth: int) -> None:
        tight = depth > 24 or self.budget <= 0
        if isinstance(node, Lit):
            out.append(node.text)
            self.budget -= len(node.text)
        elif isinstance(node, CharClass):
            out.append(self._char(node))
            self.budget -= 1
        elif isinstance(node, Ref):
            self.gen(self.rules[node.name], out, depth + 1)
        elif isinstance(node, Seq):
            for item in node.items:
                self.gen(item, out, depth + 1)
        elif isinstance(node, Alt):
            finite = [o for o in node.options if self._min(o, self.cost) < math.inf]
            if tight:
                option = min(finite, key=lambda o: self._min(o, self.cost))
            else:
                option = self.rng.choice(finite)
            self.gen(option, out, depth + 1)
        else:
            if tight:
                count = node.lo
            else:
                top = node.hi if node.hi is not None else node.lo + 4
                count = self.rng.randint(node.lo, max(node.lo, min(top, node.lo + 4)))
            for _ in range(count):
                self.gen(node.node, out, depth + 1)


def generate(text: str, seed: str, budget: int = 400) -> str:
    """An output ``text``'s grammar accepts, the same for the same seed."""
    rules = parse(text)
    gen = _Gen(rules, random.Random(seed), budget)
    if gen.cost["root"] == math.inf:
        raise GrammarError("the 'root' rule never ends")
    out: list[str] = []
    gen.gen(rules["root"], out, 0)
    return "".join(out)
