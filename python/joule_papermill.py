"""papermill for Joule notebooks: a parameter translator for Lua.

papermill writes the injected-parameters cell with a translator looked up by the kernel's
language; it ships none for Lua. Importing this module registers one (for the language "lua" and
the kernel "joule"). Installed as a package (`pip install ./python`), papermill imports it by itself
(through the entry point in joule_papermill_engine.py), so its plain command works:

    papermill -k joule IN.ipynb OUT.ipynb -p epochs 5 -p data data/glyphs-small

and so does this module's command line, with `-k joule` as the default:

    python -m joule_papermill IN.ipynb OUT.ipynb -p epochs 5 -p data data/glyphs-small

(the arguments are papermill's own; `-k joule` is added when no kernel is named), or from Python:

    import joule_papermill, papermill
    papermill.execute_notebook("IN.ipynb", "OUT.ipynb", parameters={"epochs": 5}, kernel_name="joule")

The injected cell is what `joule notebook run -p` injects: one Lua assignment per parameter
(`epochs = 5`), then `joule.set_params{ epochs = 5, ... }`, which gives the same values to
tables that `joule.params{...}` returned in the cell tagged `parameters`.
"""
import math
import numbers
import os
import re
import sys
from collections.abc import Mapping

from papermill.models import Parameter
from papermill.translators import Translator, papermill_translators

__all__ = ["LuaTranslator", "register", "main"]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_KEYWORDS = {
    "and", "break", "do", "else", "elseif", "end", "false", "for", "function", "goto", "if", "in",
    "local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while",
}


def _is_name(key):
    return isinstance(key, str) and bool(_NAME.match(key)) and key not in _KEYWORDS


def _utf8_length(data, i):
    """The length of the well-formed UTF-8 sequence at data[i] (RFC 3629), or 0."""
    b = data[i]
    k = 2 if 0xC2 <= b <= 0xDF else 3 if 0xE0 <= b <= 0xEF else 4 if 0xF0 <= b <= 0xF4 else 0
    if not k or i + k > len(data):
        return 0
    try:
        data[i:i + k].decode("utf-8")  # strict: no overlong forms, surrogates or code points past U+10FFFF
    except UnicodeDecodeError:
        return 0
    return k


def lua_string(data):
    """Bytes as a double-quoted Lua string that Lua reads back byte for byte, written as Joule's own
    writer writes it (Sources/Tensor/LuaLiteral.swift): printable ASCII as it is but `"` and `\\`, well-formed
    UTF-8 of printable characters as it is, every other byte `\\ddd` with always three digits (so a digit
    after it never joins the escape)."""
    out = ['"']
    i, n = 0, len(data)
    while i < n:
        b = data[i]
        if b == 0x22:
            out.append('\\"')
        elif b == 0x5C:
            out.append("\\\\")
        elif b == 0x0A:
            out.append("\\n")
        elif b == 0x09:
            out.append("\\t")
        elif 0x20 <= b < 0x7F:
            out.append(chr(b))
        elif b >= 0x80:
            k = _utf8_length(data, i)
            # C1 controls (U+0080 to U+009F) are escaped like the C0 ones.
            if k and not (k == 2 and b == 0xC2 and data[i + 1] < 0xA0):
                out.append(data[i:i + k].decode("utf-8"))
                i += k
                continue
            out.append("\\%03d" % b)
        else:
            out.append("\\%03d" % b)
        i += 1
    out.append('"')
    return "".join(out)


class LuaTranslator(Translator):
    """Python values as Lua 5.4 literals, every type by this class's own code: papermill's generic
    fallback (`translate_escaped_str`) does not escape `"`, so a tuple, a path or bytes once closed
    the Lua string and the rest ran as code. A value of any other type is refused."""

    @classmethod
    def translate(cls, val):
        if val is None:
            return cls.translate_none(val)
        if isinstance(val, bool):
            return cls.translate_bool(val)
        if isinstance(val, numbers.Integral):
            return cls.translate_int(int(val))
        if isinstance(val, numbers.Real):
            return cls.translate_float(float(val))
        if isinstance(val, str):
            return cls.translate_str(val)
        if isinstance(val, os.PathLike):
            # A path is its bytes (a file name need not be UTF-8).
            return lua_string(os.fsencode(val))
        if isinstance(val, (bytes, bytearray, memoryview)):
            return lua_string(bytes(val))
        if isinstance(val, Mapping):
            return cls.translate_dict(val)
        if isinstance(val, (list, tuple)):
            return cls.translate_list(val)
        raise TypeError(f"joule_papermill: cannot pass a {type(val).__name__} to a Lua notebook "
                        "(give None, a bool, number, str, bytes, path, list, tuple or dict)")

    @classmethod
    def translate_escaped_str(cls, val):
        return cls.translate(val)

    @classmethod
    def translate_raw_str(cls, val):
        return cls.translate(val)

    @classmethod
    def translate_str(cls, val):
        # Undecodable bytes that Python carries as lone surrogates (file names, arguments) are the
        # bytes again; any other lone surrogate has no bytes, and is refused.
        try:
            data = val.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError as e:
            raise ValueError(f"joule_papermill: {val!r} holds a lone surrogate, which no UTF-8 text holds") from e
        return lua_string(data)

    @classmethod
    def translate_none(cls, val):
        return "nil"

    @classmethod
    def translate_int(cls, val):
        # Lua integers are 64-bit; larger ones become floats, as Lua would read them.
        if val == -(2**63):
            return "math.mininteger"  # the numeral 9223372036854775808 is a float, negated or not
        if -(2**63) < val < 2**63:
            return str(val)
        return cls.translate_float(float(val))

    @classmethod
    def translate_float(cls, val):
        if math.isnan(val):
            return "(0/0)"
        if math.isinf(val):
            return "math.huge" if val > 0 else "-math.huge"
        return repr(val)  # shortest round-trip form, always with "." or "e": "0.001", "1e-05", "3.0"

    @classmethod
    def translate_bool(cls, val):
        return "true" if val else "false"

    @classmethod
    def translate_list(cls, val):
        return "{ " + ", ".join(cls.translate(v) for v in val) + " }" if len(val) else "{}"

    @classmethod
    def translate_dict(cls, val):
        if not val:
            return "{}"
        fields = []
        for k, v in val.items():
            if k is None or (isinstance(k, float) and math.isnan(k)):
                raise ValueError(f"joule_papermill: a Lua table cannot have the key {k!r}")
            key = k if _is_name(k) else "[" + cls.translate(k) + "]"
            fields.append(f"{key} = {cls.translate(v)}")
        return "{ " + ", ".join(fields) + " }"

    @classmethod
    def comment(cls, cmt_str):
        return f"-- {cmt_str}".strip()

    @classmethod
    def assign(cls, name, str_val):
        return f"{name} = {str_val}"

    @classmethod
    def codify(cls, parameters, comment="Parameters"):
        lines = [cls.comment(comment)]
        fields = []
        for name, val in parameters.items():
            if not _is_name(name):
                raise ValueError(f"parameter {name!r} is not a Lua name")
            value = cls.translate(val)
            lines.append(cls.assign(name, value))
            fields.append(f"{name} = {value}")
        if fields:
            lines.append("joule.set_params{ " + ", ".join(fields) + " }")
        return "\n".join(lines) + "\n"

    @classmethod
    def inspect(cls, parameters_cell):
        """The `name = value  -- help` lines of a parameters cell (for `papermill --help-notebook`).
        Linear in the cell's length (a regular expression with backtracking once took minutes on a
        line of unclosed `joule.params{`)."""
        params = []
        lines, fields = _split_params_calls(parameters_cell.source)
        for line in lines + fields:
            m = _ASSIGNMENT.match(line)
            if not m or m.group(1) in _KEYWORDS:
                continue
            rest = line[m.end():]
            if rest.startswith("="):
                continue
            cut = rest.find("--")
            default, help_ = (rest[:cut], rest[cut + 2:]) if cut >= 0 else (rest, "")
            name, default, help_ = m.group(1), default.strip(), help_.strip()
            if re.fullmatch(r"-?[0-9]+", default):
                kind = "int"
            elif re.fullmatch(r"-?([0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)([eE][-+]?[0-9]+)?", default):
                kind = "float"
            elif default in ("true", "false"):
                kind = "bool"
            elif default[:1] in ("'", '"', "["):
                kind = "str"
            elif default == "nil":
                kind = "NoneType"
            else:
                kind = "None"
            params.append(Parameter(name=name, inferred_type_name=kind, default=default, help=help_))
        return params


# `name =` at the start of a line (the default and the help are cut off by hand: no backtracking).
_ASSIGNMENT = re.compile(r"[ \t]*([A-Za-z_][A-Za-z0-9_]*)[ \t]*=")
_PARAMS_CALL = re.compile(r"joule\.params[ \t\r\n]*\{")


def _split_params_calls(source):
    """(lines, fields): the cell's lines outside `joule.params{ ... }` calls, and the fields of those
    calls. A call takes its line from the start, everything up to the first `}`, and the rest of that
    line (its newline stays). One pass over the text: each search starts past the previous call."""
    kept, fields = [], []
    pos = 0  # always a line's start, or the newline ending a call's line
    while True:
        m = _PARAMS_CALL.search(source, pos)
        close = source.find("}", m.end()) if m else -1
        if close < 0:
            # No call, or one that never closes: then no later one closes either.
            kept.append(source[pos:])
            break
        nl = source.rfind("\n", pos, m.start())
        kept.append(source[pos:nl + 1 if nl >= 0 else pos])
        fields += [f.strip() for f in source[m.end():close].split(",")]
        pos = source.find("\n", close)
        if pos < 0:
            break
    return "".join(kept).splitlines(), fields


def register():
    """Registers the translator for the language "lua" and the kernel "joule"."""
    papermill_translators.register("lua", LuaTranslator)
    papermill_translators.register("joule", LuaTranslator)


register()


def main(argv=None):
    """papermill's command line with the Lua translator registered (and `-k joule` by default)."""
    from papermill.cli import papermill as cli

    args = list(sys.argv[1:] if argv is None else argv)
    if not any(a in ("-k", "--kernel") or a.startswith("--kernel=") for a in args) and "--help" not in args and "-h" not in args:
        args = ["-k", "joule"] + args
    return cli.main(args=args, prog_name="python -m joule_papermill")


if __name__ == "__main__":
    sys.exit(main())
