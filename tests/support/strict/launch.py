"""Starts moto's server with the strict test ground installed.

moto accepts much that AWS refuses (see ../shared/EMULATOR.md). This launcher
patches moto's backends before its server starts, so that every integration
suite meets AWS's rules where jumpgate's correctness depends on them. Each
rule lives in a `rules_*.py` module beside this file, exposes
`install(settings)`, and cites the AWS documentation it follows; README.md
beside this file is the rule table.

Usage (as moto_server): python launch.py -H 127.0.0.1 -p PORT

Settings come from the environment:
  JUMPGATE_STRICT=0            start plain moto (a test that needs the lax
                               emulator says so by switching the layer off)
  JUMPGATE_STRICT_<NAME>=...   one rule's knob; each rules module documents
                               its own names and defaults
  JUMPGATE_STRICT_RULES=a,b    install only rules_a.py and rules_b.py (the
                               benchmark wants one rule, not the whole layer)
"""

import importlib.util
import os
import pathlib
import sys


class Settings:
    """Typed access to the JUMPGATE_STRICT_* knobs."""

    PREFIX = "JUMPGATE_STRICT_"

    def raw(self, name, default):
        return os.environ.get(self.PREFIX + name, default)

    def integer(self, name, default):
        return int(self.raw(name, default))

    def number(self, name, default):
        return float(self.raw(name, default))

    def flag(self, name, default):
        value = str(self.raw(name, "1" if default else "0")).strip().lower()
        return value not in ("0", "false", "off", "no", "")


def enabled():
    return os.environ.get("JUMPGATE_STRICT", "1").strip().lower() not in ("0", "false", "off", "no")


def install_rules():
    here = pathlib.Path(__file__).resolve().parent
    settings = Settings()
    installed = []
    only = os.environ.get("JUMPGATE_STRICT_RULES")
    wanted = None if only is None else {f"rules_{n.strip()}" for n in only.split(",")}
    for path in sorted(here.glob("rules_*.py")):
        if wanted is not None and path.stem not in wanted:
            continue
        spec = importlib.util.spec_from_file_location(f"jumpgate_strict.{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        module.install(settings)
        installed.append(path.stem)
    return installed


def main():
    if enabled():
        installed = install_rules()
        print(f"jumpgate strict test ground: {', '.join(installed) or 'no rules'}", flush=True)
    else:
        print("jumpgate strict test ground: off (JUMPGATE_STRICT=0)", flush=True)
    from moto.server import main as moto_main

    sys.argv[0] = "moto_server"
    sys.exit(moto_main())


if __name__ == "__main__":
    main()
