; Inheritance: @name is the type being defined, @extends / @implements each base it names.

(class_declaration
  name: (type_identifier) @name
  (class_heritage (extends_clause value: (_) @extends)))
(class_declaration
  name: (type_identifier) @name
  (class_heritage (implements_clause (_) @implements)))
(abstract_class_declaration
  name: (type_identifier) @name
  (class_heritage (extends_clause value: (_) @extends)))
(abstract_class_declaration
  name: (type_identifier) @name
  (class_heritage (implements_clause (_) @implements)))
(interface_declaration
  name: (type_identifier) @name
  (extends_type_clause type: (_) @extends))
