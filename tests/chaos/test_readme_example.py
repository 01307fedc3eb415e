"""The README's example of a user's own test ("A cloud for your own tests"), run as it stands
there, so the README and the fixture cannot drift apart."""
from __future__ import annotations

import re
from pathlib import Path

from overcast.testing.stack import back_in_pool

README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = "## A cloud for your own tests"


def readme_example() -> str:
    """The first ``python`` code block of the README's section on OvercastCloud."""
    text = README.read_text()
    assert SECTION in text, f"README.md has no section {SECTION!r}"
    block = re.search(r"```python\n(.*?)```", text.split(SECTION, 1)[1], re.DOTALL)
    assert block, f"README.md's {SECTION!r} has no python example"
    return block.group(1)


def test_the_readme_example_runs(cloud, conn, watch):
    namespace: dict = {"__name__": "readme_example"}
    exec(compile(readme_example(), str(README), "exec"), namespace)
    tests = [value for name, value in namespace.items()
             if name.startswith("test_") and callable(value)]
    assert len(tests) == 1, f"the README example should define one test, not {len(tests)}"
    tests[0](cloud)
    for host in cloud.hosts:  # the example started its host again: it rejoins the pool
        watch.wait(host, back_in_pool, timeout=90)
