; Imports: @module is what is imported from, @name an imported name, @alias its local name.

(import_statement name: (dotted_name) @module)
(import_statement
  name: (aliased_import name: (dotted_name) @module alias: (identifier) @alias))

(import_from_statement
  module_name: (_) @module
  name: (dotted_name) @name)
(import_from_statement
  module_name: (_) @module
  name: (aliased_import name: (dotted_name) @name alias: (identifier) @alias))
(import_from_statement
  module_name: (_) @module
  (wildcard_import) @name)
