"""TSX (tree-sitter-typescript's TSX grammar): the TypeScript table with JSX, for ``.tsx`` files."""

from dataclasses import replace

import tree_sitter_typescript

from parsers.languages import LanguageSpec
from parsers.languages.typescript import SPEC as TYPESCRIPT

SPEC: LanguageSpec = replace(
    TYPESCRIPT, name="tsx", extensions=(".tsx",), grammar=tree_sitter_typescript.language_tsx
)
