; Imports: `using A.B;` imports the namespace A.B; `using X = A.B;` binds it to X.

(using_directive
  name: (identifier) @alias
  [(qualified_name) (identifier) (generic_name)] @module)
(using_directive
  [(qualified_name) (identifier)] @module)
