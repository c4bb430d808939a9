"""The row table every stage reads (``table.RowTable``) and what is derived per row when a
row is appended: packed anchors, model-code keys (``codes``), interned title tokens
(``tokens``). Below the stages: candidates, scoring and clustering read it, it reads none of
them."""
