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
import re
import sys

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


class LuaTranslator(Translator):
    """Python values as Lua 5.4 literals."""

    @classmethod
    def translate_str(cls, val):
        out = ['"']
        for ch in val:
            if ch == '"':
                out.append('\\"')
            elif ch == "\\":
                out.append("\\\\")
            elif ch == "\n":
                out.append("\\n")
            elif ch == "\r":
                out.append("\\r")
            elif ch == "\t":
                out.append("\\t")
            elif ord(ch) < 0x20 or ord(ch) == 0x7F:
                out.append("\\%03d" % ord(ch))
            else:
                out.append(ch)  # UTF-8 passes through a Lua string as it is
        out.append('"')
        return "".join(out)

    @classmethod
    def translate_none(cls, val):
        return "nil"

    @classmethod
    def translate_int(cls, val):
        # Lua integers are 64-bit; larger ones become floats, as Lua would read them.
        if -(2**63) <= val < 2**63:
            return str(val)
        return cls.translate_float(float(val))

    @classmethod
    def translate_float(cls, val):
        if math.isnan(val):
            return "(0/0)"
        if math.isinf(val):
            return "math.huge" if val > 0 else "-math.huge"
        text = repr(val)  # shortest round-trip form: "0.001", "1e-05", "3.0"
        return text

    @classmethod
    def translate_bool(cls, val):
        return "true" if val else "false"

    @classmethod
    def translate_list(cls, val):
        return "{ " + ", ".join(cls.translate(v) for v in val) + " }" if val else "{}"

    @classmethod
    def translate_dict(cls, val):
        if not val:
            return "{}"
        fields = []
        for k, v in val.items():
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
        """The `name = value  -- help` lines of a parameters cell (for `papermill --help-notebook`)."""
        params = []
        # joule.params{ name = default, ... } declares parameters too (one field per name); the
        # line that calls it is no parameter itself.
        pattern = re.compile(r"^[^\n]*?joule\.params\s*\{(.*?)\}[^\n]*$", re.S | re.M)
        fields = [f.strip() for block in pattern.findall(parameters_cell.source) for f in block.split(",")]
        lines = pattern.sub("", parameters_cell.source).splitlines() + fields
        for line in lines:
            m = re.match(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*(?:--\s*(.*))?$", line)
            if not m or m.group(1) in _KEYWORDS or m.group(2).startswith("="):
                continue
            name, default, help_ = m.group(1), m.group(2), (m.group(3) or "").strip()
            if re.fullmatch(r"-?\d+", default):
                kind = "int"
            elif re.fullmatch(r"-?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?", default):
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
