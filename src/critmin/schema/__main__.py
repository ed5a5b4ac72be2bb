"""Print the generated schema reference: ``python -m critmin.schema > docs/schema.md``."""

from critmin.schema import markdown

print(markdown())
