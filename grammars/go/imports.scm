; Imports: the package path, and its local name when one is given.

(import_spec
  name: (package_identifier) @alias
  path: (_) @module)
(import_spec
  path: (_) @module)
