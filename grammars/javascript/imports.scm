; Imports: @module is what is imported from, @name an imported name, @alias its local name.

(import_statement
  (import_clause (identifier) @name)
  source: (string) @module)
(import_statement
  (import_clause (named_imports (import_specifier name: (_) @name alias: (_)? @alias)))
  source: (string) @module)
(import_statement
  (import_clause (namespace_import (identifier) @alias))
  source: (string) @module)
(import_statement
  source: (string) @module)

; const x = require("m") / const {a, b} = require("m")
(variable_declarator
  name: (identifier) @alias
  value: (call_expression
    function: (identifier) @_require
    arguments: (arguments (string) @module))
  (#eq? @_require "require"))
(variable_declarator
  name: (object_pattern (shorthand_property_identifier_pattern) @name)
  value: (call_expression
    function: (identifier) @_require
    arguments: (arguments (string) @module))
  (#eq? @_require "require"))
