#!/usr/bin/env python3
"""Writes Tests/SluiceSchemaTests/Fixtures/corpus.json: a seeded differential corpus of
(schema, document, instance, valid) cases for SluiceSchema, decided by python-jsonschema's
Draft4Validator.

Two validators decide each case:
- "reference": Draft4Validator as shipped, numbers read as Python floats (json.loads' default);
- "fge": Draft4Validator with numbers read as Decimal (exact, as fge reads them as BigDecimal) and
  `pattern` / `patternProperties` searched with ECMA 262's rules (\\d and \\w ASCII only, `$` only
  at the very end), as fge does through Rhino.
The expected answer is fge's. Where the two differ the case carries a "note" saying so; the Swift
test follows fge.

Run from the repository root: python3 tools/schema-corpus.py
"""

import decimal
import importlib.metadata
import json
import random
import re
import sys
from decimal import Decimal
from pathlib import Path

import jsonschema
from jsonschema import Draft4Validator
from jsonschema.validators import extend

SEED = 20250604
CASE_COUNT = 720
OUTPUT = Path(__file__).resolve().parent.parent / "Tests/SluiceSchemaTests/Fixtures/corpus.json"

# Decimal remainders (multipleOf) need the whole quotient's digits.
decimal.getcontext().prec = 400
decimal.getcontext().Emax = 999999
decimal.getcontext().Emin = -999999


# ---------------------------------------------------------------------------------------------
# ECMA 262 patterns, as fge searches them.

def ecma(pattern):
    """The Python regex that searches as ECMA 262 does for the patterns used here: `$` outside a
    class only at the very end (Python's also matches before a final newline), \\d and \\w ASCII."""
    out = []
    in_class = False
    escaped = False
    for ch in pattern:
        if escaped:
            out.append(ch)
            escaped = False
        elif ch == "\\":
            out.append(ch)
            escaped = True
        elif ch == "[":
            in_class = True
            out.append(ch)
        elif ch == "]":
            in_class = False
            out.append(ch)
        elif ch == "$" and not in_class:
            out.append(r"\Z")
        else:
            out.append(ch)
    return re.compile("".join(out), re.ASCII)


def ecma_pattern(validator, pattern, instance, schema):
    if validator.is_type(instance, "string") and not ecma(pattern).search(instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


def ecma_pattern_properties(validator, pattern_properties, instance, schema):
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in pattern_properties.items():
        for key, value in instance.items():
            if ecma(pattern).search(key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def ecma_additional_properties(validator, additional, instance, schema):
    if not validator.is_type(instance, "object"):
        return
    properties = schema.get("properties", {})
    patterns = [ecma(p) for p in schema.get("patternProperties", {})]
    extras = [k for k in instance if k not in properties and not any(p.search(k) for p in patterns)]
    if validator.is_type(additional, "object"):
        for extra in extras:
            yield from validator.descend(instance[extra], additional, path=extra)
    elif not additional and extras:
        yield jsonschema.ValidationError(f"additional properties {extras!r}")


FgeValidator = extend(Draft4Validator, {
    "pattern": ecma_pattern,
    "patternProperties": ecma_pattern_properties,
    "additionalProperties": ecma_additional_properties,
})


# ---------------------------------------------------------------------------------------------
# JSON text with exact numbers.

def dumps(value):
    """Compact JSON; Decimals written as their own text (1.0 stays 1.0)."""
    if isinstance(value, Decimal):
        return str(value)
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ",".join(dumps(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + dumps(v) for k, v in value.items()) + "}"
    raise TypeError(type(value))


def exact(text):
    return json.loads(text, parse_float=Decimal)


def floats(text):
    return json.loads(text)


# ---------------------------------------------------------------------------------------------
# Random schemas and values.

KEYS = ["a", "b", "c", "name", "id", "x", "tags", "é", "a b", "k~1"]
STRINGS = ["", "a", "ab", "abc", "abcd", "b", "ba", "A1", "zz9", "x12", "é", "日本", "😀", "😀x", "a\"b",
           "tab\t", "00", "7", "ab\n", "٣", "hello world", "aaa"]
NUMBERS = ["0", "-0", "1", "2", "3", "-1", "-5", "7", "10", "12", "100", "1.0", "2.0", "0.5", "1.5", "2.5",
           "-2.5", "0.1", "0.2", "0.3", "0.7", "0.30000000000000004", "1e2", "1E2", "2e-1", "1.25",
           "99999999999999999999", "-99999999999999999999", "12345678901234567890.5", "3.0000000000000001",
           "1e30", "0.000001", "4.5e1", "-0.0", "9007199254740993"]
PATTERNS = ["^a", "b$", "^[a-z]+$", "[0-9]", "^.{2,3}$", "a|z", "^(ab)+$", "x*9", "^\\w+$", "\\d", "^$", "é",
            "^[^a]*$", "c"]
DIVISORS = ["2", "3", "5", "0.5", "0.1", "0.01", "1.5", "7", "0.25", "0.001", "2.5", "1e-2", "10", "0.3"]
BOUNDS = ["0", "1", "2", "-1", "0.5", "2.5", "10", "100", "-2.5", "1.0", "0.1", "1e2", "99999999999999999999"]


def number_value(rng):
    text = rng.choice(NUMBERS)
    if re.fullmatch(r"-?[0-9]+", text):
        return int(text)
    return Decimal(text)


def value(rng, depth=0):
    kinds = ["null", "bool", "number", "number", "string", "string"]
    if depth < 3:
        kinds += ["array", "object"]
    kind = rng.choice(kinds)
    if kind == "null":
        return None
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "number":
        return number_value(rng)
    if kind == "string":
        return rng.choice(STRINGS)
    if kind == "array":
        return [value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    keys = rng.sample(KEYS, rng.randint(0, 4))
    return {k: value(rng, depth + 1) for k in keys}


def bound(rng):
    text = rng.choice(BOUNDS)
    return int(text) if re.fullmatch(r"-?[0-9]+", text) else Decimal(text)


def divisor(rng):
    text = rng.choice(DIVISORS)
    return int(text) if re.fullmatch(r"[0-9]+", text) else Decimal(text)


def unique_values(rng, count):
    values = []
    while len(values) < count:
        candidate = value(rng, 2)
        if not any(jsonschema._utils.equal(candidate, v) for v in values):
            values.append(candidate)
    return values


TYPES = ["array", "boolean", "integer", "null", "number", "object", "string"]


def schema(rng, depth=0, definitions=None):
    """A random draft 4 schema; `definitions` collects named schemas for $refs."""
    family = rng.choice(["number", "number", "string", "string", "array", "array", "object", "object", "object",
                         "combinator", "enum", "type", "ref"] if depth < 3 else ["number", "string", "type", "enum"])
    s = {}
    if family == "type":
        if rng.random() < 0.5:
            s["type"] = rng.choice(TYPES)
        else:
            s["type"] = rng.sample(TYPES, rng.randint(1, 3))
    elif family == "enum":
        s["enum"] = unique_values(rng, rng.randint(1, 4))
        if rng.random() < 0.3:
            s["type"] = rng.choice(TYPES)
    elif family == "number":
        if rng.random() < 0.6:
            s["type"] = rng.choice(["number", "integer"])
        if rng.random() < 0.5:
            s["minimum"] = bound(rng)
            if rng.random() < 0.4:
                s["exclusiveMinimum"] = rng.random() < 0.7
        if rng.random() < 0.5:
            s["maximum"] = bound(rng)
            if rng.random() < 0.4:
                s["exclusiveMaximum"] = rng.random() < 0.7
        if rng.random() < 0.5 or len(s) == 0:
            s["multipleOf"] = divisor(rng)
    elif family == "string":
        if rng.random() < 0.6:
            s["type"] = "string"
        if rng.random() < 0.5:
            s["minLength"] = rng.randint(0, 4)
        if rng.random() < 0.5:
            s["maxLength"] = rng.randint(0, 4)
        if rng.random() < 0.5 or len(s) <= 1:
            s["pattern"] = rng.choice(PATTERNS)
        if rng.random() < 0.1:
            s["format"] = rng.choice(["email", "date-time", "uri"])
    elif family == "array":
        if rng.random() < 0.6:
            s["type"] = "array"
        r = rng.random()
        if r < 0.4:
            s["items"] = schema(rng, depth + 1, definitions)
        elif r < 0.7:
            s["items"] = [schema(rng, depth + 1, definitions) for _ in range(rng.randint(1, 3))]
            a = rng.random()
            if a < 0.4:
                s["additionalItems"] = False
            elif a < 0.6:
                s["additionalItems"] = schema(rng, depth + 1, definitions)
        if rng.random() < 0.4:
            s["minItems"] = rng.randint(0, 3)
        if rng.random() < 0.4:
            s["maxItems"] = rng.randint(0, 4)
        if rng.random() < 0.4:
            s["uniqueItems"] = rng.random() < 0.8
    elif family == "object":
        if rng.random() < 0.6:
            s["type"] = "object"
        names = rng.sample(KEYS, rng.randint(0, 4))
        if names:
            s["properties"] = {n: schema(rng, depth + 1, definitions) for n in names}
        if rng.random() < 0.5:
            s["required"] = rng.sample(KEYS, rng.randint(1, 3))
        a = rng.random()
        if a < 0.3:
            s["additionalProperties"] = False
        elif a < 0.45:
            s["additionalProperties"] = schema(rng, depth + 1, definitions)
        if rng.random() < 0.25:
            s["patternProperties"] = {p: schema(rng, depth + 1, definitions)
                                      for p in rng.sample(["^a", "^x", "[0-9]", "é", "^t"], rng.randint(1, 2))}
        if rng.random() < 0.25:
            deps = {}
            for trigger in rng.sample(KEYS, rng.randint(1, 2)):
                if rng.random() < 0.6:
                    deps[trigger] = rng.sample(KEYS, rng.randint(1, 2))
                else:
                    deps[trigger] = schema(rng, depth + 1, definitions)
            s["dependencies"] = deps
        if rng.random() < 0.25:
            s["minProperties"] = rng.randint(0, 3)
        if rng.random() < 0.25:
            s["maxProperties"] = rng.randint(0, 4)
    elif family == "combinator":
        keyword = rng.choice(["allOf", "anyOf", "oneOf", "not"])
        if keyword == "not":
            s["not"] = schema(rng, depth + 1, definitions)
        else:
            s[keyword] = [schema(rng, depth + 1, definitions) for _ in range(rng.randint(1, 3))]
    elif family == "ref":
        name = f"D{len(definitions)}"
        definitions[name] = None  # reserved, so a nested schema can refer back to it
        definitions[name] = schema(rng, depth + 1, definitions)
        s["$ref"] = f"#/definitions/{name}"
        if rng.random() < 0.2:
            s["type"] = "null"  # ignored beside $ref (draft 4)
    return s


def instance_for(rng, s, definitions, depth=0):
    """A value aimed at `s`: often valid, sometimes one step off."""
    if depth > 5 or rng.random() < 0.15:
        return value(rng, 2)
    if "$ref" in s:
        return instance_for(rng, definitions[s["$ref"].split("/")[-1]], definitions, depth + 1)
    if "enum" in s:
        return rng.choice(s["enum"]) if rng.random() < 0.7 else value(rng, 2)
    for keyword in ["allOf", "anyOf", "oneOf"]:
        if keyword in s:
            return instance_for(rng, rng.choice(s[keyword]), definitions, depth + 1)
    if "not" in s:
        return value(rng, 2)
    t = s.get("type")
    if isinstance(t, list):
        t = rng.choice(t)
    if "minimum" in s or "maximum" in s or "multipleOf" in s or t in ("number", "integer"):
        if "multipleOf" in s and rng.random() < 0.5:
            return s["multipleOf"] * rng.randint(-3, 30)
        base = s.get("minimum", s.get("maximum", 0))
        return rng.choice([base, base + 1, base - 1, number_value(rng), base + Decimal("0.5")])
    if "pattern" in s or "minLength" in s or "maxLength" in s or t == "string":
        return rng.choice(STRINGS)
    if "items" in s or "minItems" in s or "maxItems" in s or "uniqueItems" in s or t == "array":
        items = s.get("items", {})
        count = rng.randint(0, 4)
        if isinstance(items, list):
            result = [instance_for(rng, items[i], definitions, depth + 1) for i in range(min(count, len(items)))]
            extra = s.get("additionalItems", {})
            for _ in range(count - len(items)):
                result.append(instance_for(rng, extra, definitions, depth + 1) if isinstance(extra, dict) else value(rng, 2))
            return result
        result = [instance_for(rng, items, definitions, depth + 1) for _ in range(count)]
        if s.get("uniqueItems") and result and rng.random() < 0.3:
            result.append(result[0])
        return result
    if t == "object" or any(k in s for k in ["properties", "required", "additionalProperties", "patternProperties",
                                             "dependencies", "minProperties", "maxProperties"]):
        result = {}
        for name, sub in s.get("properties", {}).items():
            if rng.random() < 0.7:
                result[name] = instance_for(rng, sub, definitions, depth + 1)
        for name in s.get("required", []):
            if name not in result and rng.random() < 0.8:
                result[name] = value(rng, 2)
        if rng.random() < 0.3:
            result[rng.choice(KEYS)] = value(rng, 2)
        if "patternProperties" in s and rng.random() < 0.5:
            pattern, sub = rng.choice(list(s["patternProperties"].items()))
            key = {"^a": "ax", "^x": "xy", "[0-9]": "k7", "é": "né", "^t": "tags"}[pattern]
            result[key] = instance_for(rng, sub, definitions, depth + 1)
        return result
    if t == "boolean":
        return rng.random() < 0.5
    if t == "null":
        return None
    return value(rng, 2)


# ---------------------------------------------------------------------------------------------
# Hand-written cases for the edges (numbers, strings, equality, refs).

def hand_cases():
    cases = []

    def add(schema_value, instance_text, document=None, note=None):
        cases.append((schema_value, document, instance_text, note))

    integer = {"type": "integer"}
    for text in ["1", "-0", "1.0", "1e2", "1.5", "123456789012345678901234567890", "0.0", "-1"]:
        add(integer, text)
    for text in ["1", "1.0", "1e400", "-1e-400"]:
        add({"type": "number"}, text)
    add({"minimum": Decimal("0.1")}, "0.1")
    add({"minimum": Decimal("0.1"), "exclusiveMinimum": True}, "0.1")
    add({"minimum": Decimal("0.1"), "exclusiveMinimum": True}, "0.10000000000000001")
    add({"maximum": Decimal("0.3")}, "0.30000000000000001")
    add({"maximum": 99999999999999999999}, "100000000000000000000")
    add({"maximum": 99999999999999999999}, "99999999999999999999.0")
    add({"minimum": 9007199254740993}, "9007199254740992")
    for instance in ["0.3", "0.7", "1e2", "1.1", "0.30000000000000004", "3e-1", "12345678901234567890.1"]:
        add({"multipleOf": Decimal("0.1")}, instance)
    for instance in ["4.5", "4.55", "-9", "0", "-0.0", "1e3"]:
        add({"multipleOf": Decimal("1.5")}, instance)
    add({"multipleOf": 3}, "1e400")
    add({"multipleOf": 7}, "70000000000000000000000000000000000000001")
    add({"multipleOf": 7}, "70000000000000000000000000000000000000000")
    add({"minLength": 2, "maxLength": 2}, json.dumps("😀x", ensure_ascii=False))
    add({"minLength": 2}, json.dumps("😀"))  # "\ud83d\ude00": one code point
    add({"maxLength": 1}, '"\\u00e9"')
    add({"maxLength": 1}, '"e\\u0301"')
    add({"enum": [1]}, "1.0")
    add({"enum": [1]}, "true")
    add({"enum": [False]}, "0")
    add({"enum": [{"a": 1, "b": [1, 2]}]}, '{"b":[1.0,2],"a":1}')
    add({"enum": [{"a": 1, "b": [1, 2]}]}, '{"b":[2,1],"a":1}')
    add({"enum": ["a/b"]}, '"a\\/b"')
    add({"enum": [None, "null"]}, "null")
    add({"uniqueItems": True}, "[1, 1.0]")
    add({"uniqueItems": True}, "[1, true]")
    add({"uniqueItems": True}, '[{"a":1,"b":2},{"b":2,"a":1}]')
    add({"uniqueItems": True}, '[{"a":1,"b":2},{"b":2,"a":2}]')
    add({"uniqueItems": True}, '[[1,2],[2,1]]')
    add({"uniqueItems": True}, '["a","\\u0061"]')
    add({"uniqueItems": True}, "[0, -0, 0.0]")
    add({"uniqueItems": True}, "[" + ",".join(str(i) for i in range(300)) + ",7]")
    add({"uniqueItems": True}, "[" + ",".join(str(i) for i in range(300)) + "]")
    add({"properties": {"a\"b": {"type": "integer"}}}, '{"a\\"b": "x"}')
    add({"properties": {"é": {"type": "integer"}}}, '{"\\u00e9": "x"}')
    add({"required": ["é"]}, '{"\\u00e9": 1}')
    add({"additionalProperties": False, "patternProperties": {"^x-": {}}}, '{"x-a":1}')
    add({"additionalProperties": False, "patternProperties": {"^x-": {}}}, '{"y":1}')
    add({"required": [f"p{i}" for i in range(70)]}, "{" + ",".join(f'"p{i}":{i}' for i in range(70)) + "}")
    add({"required": [f"p{i}" for i in range(70)]}, "{" + ",".join(f'"p{i}":{i}' for i in range(69)) + "}")
    add({"required": [f"p{i}" for i in range(70)]},
        "{" + ",".join(f'"p{i}":{i}' for i in range(70) if i != 66) + ',"q":1}')
    add({"dependencies": {"a": ["b", "c"]}}, '{"a":1,"b":2}')
    add({"dependencies": {"a": {"required": ["z"]}}}, '{"a":1,"z":2}')
    add({"dependencies": {"a": {"required": ["z"]}}}, '{"a":1}')
    add({"dependencies": {"a": {"required": ["z"]}}}, "[1]")
    # ECMA 262 against Python's re: fge's answers.
    add({"pattern": "^a$"}, '"a\\n"', note="Python's $ also matches before a final newline; ECMA 262's does not")
    add({"pattern": "^\\d$"}, '"٣"', note="Python's \\d matches any Unicode digit; ECMA 262's only 0-9")
    add({"pattern": "^\\w+$"}, '"é"', note="Python's \\w matches Unicode letters; ECMA 262's only [A-Za-z0-9_]")
    # $ref: into the document, recursive, beside siblings, escaped pointers.
    tree = {"definitions": {"Node": {"type": "object", "required": ["value"],
                                     "properties": {"value": {"type": "integer"},
                                                    "children": {"type": "array",
                                                                 "items": {"$ref": "#/definitions/Node"}}}}}}
    add({"$ref": "#/definitions/Node"}, '{"value":1,"children":[{"value":2,"children":[]},{"value":3}]}', tree)
    add({"$ref": "#/definitions/Node"}, '{"value":1,"children":[{"value":2,"children":[{"value":"x"}]}]}', tree)
    add({"$ref": "#/definitions/a~1b~0c", "type": "string"}, "5",
        {"definitions": {"a/b~c": {"type": "integer"}}})
    add({"$ref": "#/definitions/a~1b~0c"}, '"x"', {"definitions": {"a/b~c": {"type": "integer"}}})
    return cases


# ---------------------------------------------------------------------------------------------

def decide(schema_value, document, instance_text):
    schema_text = dumps(schema_value)
    root = exact(schema_text)
    # A $ref resolves against the document: the case's, else the schema itself.
    resolver_root = exact(dumps(document)) if document is not None else root
    fge = FgeValidator(root, resolver=jsonschema.RefResolver.from_schema(resolver_root))
    reference = Draft4Validator(floats(schema_text),
                                resolver=jsonschema.RefResolver.from_schema(floats(dumps(document if document is not None else schema_value))))
    expected = fge.is_valid(exact(instance_text))
    # Exact numbers with Python's regexes: tells which of the two differences decided a case.
    exact_python = Draft4Validator(root, resolver=jsonschema.RefResolver.from_schema(resolver_root)).is_valid(
        exact(instance_text))
    try:
        reference_answer = reference.is_valid(floats(instance_text))
    except (OverflowError, ValueError, decimal.InvalidOperation) as error:
        reference_answer = f"error ({type(error).__name__})"
    if exact_python != expected:
        reason = "Python's re and ECMA 262 differ here ($ before a final newline, Unicode \\d and \\w)"
    else:
        reason = "jsonschema reads numbers as floats; fge reads them as BigDecimal, exactly"
    return expected, reference_answer, reason


def main():
    import warnings
    warnings.simplefilter("ignore", DeprecationWarning)  # RefResolver: the Draft 4 way of resolving $ref
    rng = random.Random(SEED)
    cases = []
    seen = set()
    for schema_value, document, instance_text, note in hand_cases():
        cases.append((schema_value, document, instance_text, note))
    attempts = 0
    while len(cases) < CASE_COUNT and attempts < CASE_COUNT * 50:
        attempts += 1
        definitions = {}
        s = schema(rng, 0, definitions)
        document = None
        if definitions:
            s = dict(s)
            s["definitions"] = definitions
        Draft4Validator.check_schema(exact(dumps(s)))
        for _ in range(3):
            instance = instance_for(rng, s, definitions)
            instance_text = dumps(instance)
            key = dumps(s) + "\n" + instance_text
            if key in seen:
                continue
            seen.add(key)
            cases.append((s, document, instance_text, None))
    output = []
    differences = 0
    for index, (schema_value, document, instance_text, note) in enumerate(cases):
        expected, reference_answer, reason = decide(schema_value, document, instance_text)
        case = {"id": index, "schema": schema_value}
        if document is not None:
            case["document"] = document
        case["instance"] = instance_text
        case["valid"] = expected
        if reference_answer != expected:
            differences += 1
            reason = note or reason
            case["note"] = f"fge: {expected}; jsonschema's Draft4Validator: {reference_answer}. {reason}"
        output.append(case)
    valid_count = sum(1 for c in output if c["valid"])
    body = ",\n".join("  " + dumps(c) for c in output)
    header = (f'{{"generator": "tools/schema-corpus.py", "seed": {SEED}, "jsonschema": "{importlib.metadata.version("jsonschema")}",\n'
              f' "cases": [\n{body}\n]}}\n')
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(header, encoding="utf-8")
    print(f"{len(output)} cases ({valid_count} valid, {len(output) - valid_count} invalid, "
          f"{differences} where fge and jsonschema differ) -> {OUTPUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
