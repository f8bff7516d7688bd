; Imports: `import a.b.C;` imports C from a.b; `import a.b.*;` the package a.b.

(import_declaration
  (scoped_identifier scope: (_) @module name: (identifier) @name))
(import_declaration
  (scoped_identifier) @module
  (asterisk))
