r"""The syntax of routing conditions: tokenizer, tree and recursive-descent parser.

A condition such as ``age > 40 and region == "NE"`` becomes a small tree of the frozen
dataclasses below; :mod:`core.serving.conditions` compiles that tree into closures and says what
it means. Nothing here hands policy text to ``eval``, ``exec``, ``compile`` or
``ast.literal_eval``: the tokenizer accepts only the characters of this grammar, so code (calls,
attributes, lambdas, statements) is refused with the column and the token at fault.

Grammar (keywords are lower case; whitespace separates tokens)::

    condition  := or_expr END
    or_expr    := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | "(" or_expr ")" | test
    test       := operand [ cmp_op operand | "in" list | "not" "in" list ]
    cmp_op     := "==" | "!=" | "<" | "<=" | ">" | ">="
    operand    := field | literal
    list       := "[" [literal ("," literal)*] "]"
    literal    := number | string | "true" | "false" | "null"
    field      := name ("." name)*       name := [A-Za-z_][A-Za-z0-9_]*, not starting with "__"
    number     := -?[0-9]+(.[0-9]+)?([eE][+-]?[0-9]+)?
    string     := "..." or '...' with escapes \\ \" \' \n \r \t \uXXXX

``not`` binds tighter than ``and``, which binds tighter than ``or``. A bare field (``is_vip``)
is a test of its own. Comparisons do not chain (``1 < a < 3`` is refused), a list holds literals
of one type (plus ``null``), and a condition is at most :data:`MAX_CONDITION_LENGTH` characters
with at most :data:`MAX_DEPTH` nested parentheses and ``not``, so parsing never exhausts the
stack.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

MAX_CONDITION_LENGTH = 4000
MAX_DEPTH = 32

_KEYWORDS = frozenset({"and", "or", "not", "in", "true", "false", "null"})
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_HEX4 = re.compile(r"[0-9a-fA-F]{4}")
_ESCAPES = {"\\": "\\", '"': '"', "'": "'", "n": "\n", "r": "\r", "t": "\t"}
_CHAR_HINTS = {
    ";": "a condition is one expression", "&": "use 'and'", "|": "use 'or'",
    ":": "lambdas and slices are not part of conditions", ".": "'.' only joins field names",
    "+": "arithmetic is not supported", "*": "arithmetic is not supported",
    "/": "arithmetic is not supported", "%": "arithmetic is not supported",
}


class PolicyError(ValueError):
    """A routing policy or one of its conditions is invalid; the message says what and where.

    For condition errors ``column`` (1-based) and ``token`` (the offending text) are set.
    """

    def __init__(self, message: str, *, column: int | None = None,
                 token: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.column = column
        self.token = token

    def prefixed(self, where: str) -> PolicyError:
        """The same error, its message prefixed by where it happened in the document."""
        return PolicyError(f"{where}: {self.message}", column=self.column, token=self.token)


# ---------------------------------------------------------------------------- tokens
@dataclass(frozen=True, slots=True)
class Token:
    kind: str     # name, number, string, keyword, op, punct, end
    text: str     # as written in the condition
    value: Any
    column: int   # 1-based

    def describe(self) -> str:
        if self.kind == "end":
            return "the end of the condition"
        return f"{self.kind} {self.text!r}" if self.kind in ("name", "number", "string") \
            else repr(self.text)


def _fail(column: int, message: str, token: str) -> PolicyError:
    return PolicyError(f"column {column}: {message}", column=column, token=token)


def tokenize(text: str) -> list[Token]:
    """Split a condition into tokens; raises :class:`PolicyError` naming column and character."""
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        col = i + 1
        if c in " \t\r\n":
            i += 1
        elif c in "()[],":
            tokens.append(Token("punct", c, c, col))
            i += 1
        elif c in "=!<>":
            two = text[i:i + 2]
            if two in ("==", "!=", "<=", ">="):
                tokens.append(Token("op", two, two, col))
                i += 2
            elif c in "<>":
                tokens.append(Token("op", c, c, col))
                i += 1
            elif c == "=":
                raise _fail(col, "'=' is not an operator; compare with '=='", c)
            else:
                raise _fail(col, "'!' is not an operator; use 'not' or '!='", c)
        elif c in "\"'":
            value, i = _read_string(text, i)
            tokens.append(Token("string", text[col - 1:i], value, col))
        elif c == "-" or "0" <= c <= "9":
            m = _NUMBER.match(text, i)
            if m is None:
                raise _fail(col, "'-' must be followed by a number (arithmetic is not supported)",
                             c)
            i = m.end()
            if i < n and (text[i] in "._" or text[i].isalnum()):
                rest = _NAME.match(text, i) or _NUMBER.match(text, i)
                raise _fail(i + 1, f"{m.group()!r} runs into {text[i]!r}; put a space or an "
                                   "operator between them", rest.group() if rest else text[i])
            tokens.append(Token("number", m.group(), _number(m.group(), col), col))
        elif c == "_" or (c.isascii() and c.isalpha()):
            m = _NAME.match(text, i)
            assert m is not None  # c starts a name
            word = m.group()
            _check_name(word, col)
            kind = "keyword" if word in _KEYWORDS else "name"
            tokens.append(Token(kind, word, word, col))
            i = m.end()
        else:
            hint = _CHAR_HINTS.get(c)
            raise _fail(col, f"unexpected character {c!r}" + (f" ({hint})" if hint else ""), c)
    tokens.append(Token("end", "", None, n + 1))
    return tokens


def _read_string(text: str, start: int) -> tuple[str, int]:
    quote, parts, j, n = text[start], [], start + 1, len(text)
    while True:
        if j >= n:
            raise _fail(start + 1, f"string {text[start:start + 20]!r} is not closed",
                            text[start:start + 20])
        ch = text[j]
        if ch == quote:
            return "".join(parts), j + 1
        if ch == "\\":
            esc = text[j + 1:j + 2]
            if esc in _ESCAPES:
                parts.append(_ESCAPES[esc])
                j += 2
            elif esc == "u" and _HEX4.fullmatch(text, j + 2, j + 6):
                parts.append(chr(int(text[j + 2:j + 6], 16)))
                j += 6
            elif esc == "":
                raise _fail(start + 1, f"string {text[start:start + 20]!r} is not closed",
                            text[start:start + 20])
            else:
                raise _fail(j + 1, f"unknown escape '\\{esc}' in a string (known: \\\\ \\\" "
                                   "\\' \\n \\r \\t \\uXXXX)", "\\" + esc)
        elif ch < " ":
            raise _fail(j + 1, "control character in a string; write it as an escape", ch)
        else:
            parts.append(ch)
            j += 1


def _number(text: str, column: int) -> int | float:
    try:
        value: int | float = float(text) if any(c in text for c in ".eE") else int(text)
    except ValueError as exc:  # an int past Python's digit limit
        raise _fail(column, f"number {text[:20]}... is too long", text[:20]) from exc
    if isinstance(value, float) and not math.isfinite(value):
        raise _fail(column, f"number {text} is out of range", text)
    return value


def _check_name(word: str, column: int) -> None:
    if any(part.startswith("__") for part in word.split(".")):
        raise _fail(column, f"names starting with '__' are not allowed: {word!r}", word)
    if word not in _KEYWORDS:
        lower = word.lower()
        if lower in _KEYWORDS:
            raise _fail(column, f"keywords are lower case: write {lower!r}, not {word!r}", word)
        if word == "None":
            raise _fail(column, "write 'null', not 'None'", word)
        if lower == "lambda":
            raise _fail(column, "lambdas are not part of conditions", word)


# ---------------------------------------------------------------------------- tree
@dataclass(frozen=True, slots=True)
class Field:
    path: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Literal:
    value: Any  # int, float, str, bool or None


@dataclass(frozen=True, slots=True)
class Compare:
    op: str
    left: Field | Literal
    right: Field | Literal


@dataclass(frozen=True, slots=True)
class In:
    operand: Field | Literal
    values: tuple[Any, ...]
    negate: bool


@dataclass(frozen=True, slots=True)
class Truth:
    operand: Field | Literal  # a field holding a boolean, or true/false


@dataclass(frozen=True, slots=True)
class Not:
    item: Any


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Any, ...]


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.depth = 0

    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.pos + ahead, len(self.tokens) - 1)]

    def take(self) -> Token:
        tok = self.tokens[self.pos]
        self.pos += 1
        return tok

    def error(self, tok: Token, message: str) -> PolicyError:
        return _fail(tok.column, f"{message}, found {tok.describe()}", tok.text)

    def is_word(self, tok: Token, word: str) -> bool:
        return tok.kind == "keyword" and tok.text == word

    def enter(self, tok: Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _fail(tok.column, f"nested deeper than {MAX_DEPTH} levels of '(' and 'not'",
                        tok.text)

    def parse(self) -> Any:
        node = self.or_expr()
        tok = self.peek()
        if tok.kind != "end":
            if tok.text == ")":
                raise self.error(tok, "no '(' is open to close")
            raise self.error(tok, "expected 'and', 'or' or the end of the condition")
        return node

    def or_expr(self) -> Any:
        items = [self.and_expr()]
        while self.is_word(self.peek(), "or"):
            self.take()
            items.append(self.and_expr())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def and_expr(self) -> Any:
        items = [self.not_expr()]
        while self.is_word(self.peek(), "and"):
            self.take()
            items.append(self.not_expr())
        return items[0] if len(items) == 1 else And(tuple(items))

    def not_expr(self) -> Any:
        tok = self.peek()
        if self.is_word(tok, "not"):
            self.enter(tok)
            self.take()
            node = Not(self.not_expr())
            self.depth -= 1
            return node
        if tok.text == "(" and tok.kind == "punct":
            self.enter(tok)
            self.take()
            node = self.or_expr()
            close = self.peek()
            if close.text != ")" or close.kind != "punct":
                raise self.error(close, f"expected ')' to close the '(' at column {tok.column}")
            self.take()
            self.depth -= 1
            return node
        return self.test()

    def operand(self, expected: str) -> Field | Literal:
        tok = self.peek()
        if tok.kind == "name":
            self.take()
            return Field(tuple(tok.text.split(".")))
        if tok.kind in ("number", "string"):
            self.take()
            return Literal(tok.value)
        if tok.kind == "keyword" and tok.text in ("true", "false", "null"):
            self.take()
            return Literal({"true": True, "false": False, "null": None}[tok.text])
        if tok.text == "[":
            raise self.error(tok, "a list may only follow 'in' or 'not in'")
        raise self.error(tok, f"expected {expected}")

    def test(self) -> Any:
        first = self.peek()
        left = self.operand("a condition (a field, a value or '(')")
        tok = self.peek()
        if tok.kind == "op":
            self.take()
            right = self.operand(f"a field or a value after {tok.text!r}")
            after = self.peek()
            if after.kind == "op":
                raise self.error(after, "comparisons do not chain; join them with 'and'")
            return Compare(tok.text, left, right)
        if self.is_word(tok, "in"):
            self.take()
            return In(left, self.list_literal(), False)
        if self.is_word(tok, "not") and self.is_word(self.peek(1), "in"):
            self.take()
            self.take()
            return In(left, self.list_literal(), True)
        if tok.kind == "punct" and tok.text == "(":
            raise self.error(tok, "function calls are not allowed")
        if not (tok.kind == "end" or tok.text == ")" or self.is_word(tok, "and")
                or self.is_word(tok, "or")):
            raise self.error(tok, f"expected a comparison (==, !=, <, <=, >, >=, in, not in) "
                                  f"after {first.text!r}")
        if isinstance(left, Field) or isinstance(left.value, bool):
            return Truth(left)
        raise self.error(first, "a value alone is not a condition; compare it with a field")

    def list_literal(self) -> tuple[Any, ...]:
        open_ = self.peek()
        if open_.text != "[" or open_.kind != "punct":
            raise self.error(open_, "expected '[' to start a list")
        self.take()
        values: list[Any] = []
        kinds: set[str] = set()
        if self.peek().text == "]" and self.peek().kind == "punct":
            self.take()
            return ()
        while True:
            tok = self.peek()
            if tok.kind not in ("number", "string") and not (
                    tok.kind == "keyword" and tok.text in ("true", "false", "null")):
                raise self.error(tok, "expected a number, a string, true, false or null in a list")
            value = self.operand("a value")
            kind = value_kind(value.value)  # type: ignore[union-attr]
            if kind != "null":
                kinds.add(kind)
                if len(kinds) > 1:
                    raise _fail(tok.column, f"a list mixes {' and '.join(sorted(kinds))}: "
                                           f"{tok.text}", tok.text)
            values.append(value.value)  # type: ignore[union-attr]
            sep = self.take()
            if sep.kind == "punct" and sep.text == "]":
                return tuple(values)
            if sep.kind != "punct" or sep.text != ",":
                raise self.error(sep, f"expected ',' or ']' to continue the list opened at "
                                      f"column {open_.column}")


# ---------------------------------------------------------------------------- entry point
def value_kind(v: Any) -> str:
    """number, string, boolean, null, or '' for a value that compares with nothing."""
    if v is None:
        return "null"
    t = type(v)
    if t is bool:
        return "boolean"
    if t is int or (t is float and v == v):
        return "number"
    if t is str:
        return "string"
    return ""


def parse_tree(text: str) -> tuple[Any, frozenset[str]]:
    """The tree of a condition and the field names it reads; raises :class:`PolicyError`."""
    if not isinstance(text, str):
        raise PolicyError("a condition must be a string")
    if len(text) > MAX_CONDITION_LENGTH:
        raise PolicyError(f"condition is {len(text)} characters long; the limit is "
                          f"{MAX_CONDITION_LENGTH}", column=MAX_CONDITION_LENGTH + 1,
                          token=text[MAX_CONDITION_LENGTH:MAX_CONDITION_LENGTH + 10])
    tokens = tokenize(text)
    if len(tokens) == 1:
        raise PolicyError("column 1: the condition is empty (write 'true' to match every "
                          "request)", column=1, token="")
    tree = _Parser(tokens).parse()
    return tree, frozenset(t.text for t in tokens if t.kind == "name")
