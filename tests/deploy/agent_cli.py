"""The agent's flags, read from its CLI sources, for the deployment checks: a chart or unit
that passes a flag the agent does not define would stop the agent with exit code 2."""
import re
from pathlib import Path


def agent_flags(root):
    """(flags registered with add_option/add_flag, every "--flag" string named in cli/)."""
    registered, named = set(), set()
    for source in (Path(root) / "cli").glob("*.cpp"):
        text = source.read_text()
        registered |= set(re.findall(r'add_(?:option|flag)\(\s*"(?:-\w,)?(--[a-z0-9-]+)', text))
        named |= set(re.findall(r'"(--[a-z0-9-]+)"', text))
    return registered, named
