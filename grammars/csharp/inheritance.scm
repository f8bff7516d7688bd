; Inheritance: C#'s base list does not say which entries are classes and which are
; interfaces, so every entry is recorded as @extends.

(class_declaration
  name: (identifier) @name
  (base_list [(identifier) (generic_name) (qualified_name)] @extends))
(record_declaration
  name: (identifier) @name
  (base_list [(identifier) (generic_name) (qualified_name) (primary_constructor_base_type)] @extends))
(struct_declaration
  name: (identifier) @name
  (base_list [(identifier) (generic_name) (qualified_name)] @extends))
(interface_declaration
  name: (identifier) @name
  (base_list [(identifier) (generic_name) (qualified_name)] @extends))
