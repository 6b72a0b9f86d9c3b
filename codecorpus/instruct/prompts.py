"""The OSS-Instruct prompt: a system sentence and a user message that shows a seed "for inspiration" and
asks for a self-contained problem and its solution in two marked sections (Magicoder's structure, our
words). With tests asked for, a third section holds assert-based tests (SelfCodeAlign's idea)."""
from __future__ import annotations

PROBLEM = "[Problem Description]"
SOLUTION = "[Solution]"
TESTS = "[Tests]"

SYSTEM = ("You are an outstanding programmer who writes clear, self-contained programming problems "
          "and exact, working solutions to them.")

USER = """\
Below is a random piece of code taken from an open-source project. Use it as inspiration for a
new, high-quality programming problem: you may build on an idea, an API or a technique it shows,
but the problem must stand on its own.

Code snippet for inspiration:
```{fence_language}
{seed}
```

Answer in these sections, in this order, each starting with its title on its own line:

{problem}
A completely self-contained problem statement: give every piece of context, every variable, input
and output format, and every code fragment a reader needs to solve it without seeing the snippet.

{solution}
A complete and correct solution to the problem, with its code in a fenced block.
{tests_part}"""

TESTS_PART = """
{tests}
Tests for your solution: a fenced ```python block of plain `assert` statements that call the solution
(it is run right after the solution's code, in the same file, with no network and no files outside
the current directory). Write this section only for a Python solution.
"""

# Fence info strings for the corpus's language names (Markdown highlighters' names).
FENCE = {"C++": "cpp", "C#": "csharp", "Shell": "bash", "TypeScript": "typescript", "Python": "python",
         "Java": "java", "Rust": "rust", "PHP": "php", "Swift": "swift", "JavaScript": "javascript", "Go": "go"}


def messages(seed: str, language: str | None, ask_for_tests: bool) -> list[dict[str, str]]:
    """Chat messages for one seed."""
    tests_part = TESTS_PART.format(tests=TESTS) if ask_for_tests else ""
    user = USER.format(seed=seed, fence_language=FENCE.get(language or "", (language or "").lower()),
                       problem=PROBLEM, solution=SOLUTION, tests_part=tests_part)
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]
