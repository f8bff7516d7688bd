; Imports: `use a::b::c;` imports c from a::b; `use a::b::{c, d as e};` each name.

(use_declaration
  argument: (scoped_identifier path: (_) @module name: (identifier) @name))
(use_declaration
  argument: (use_as_clause
    path: (scoped_identifier path: (_) @module name: (identifier) @name)
    alias: (identifier) @alias))
(use_declaration
  argument: (scoped_use_list
    path: (_) @module
    list: (use_list (identifier) @name)))
(use_declaration
  argument: (scoped_use_list
    path: (_) @module
    list: (use_list (use_as_clause path: (identifier) @name alias: (identifier) @alias))))
(use_declaration
  argument: (use_wildcard (scoped_identifier) @module))
(use_declaration
  argument: (identifier) @module)
(extern_crate_declaration
  name: (identifier) @module)
