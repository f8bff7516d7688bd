; Inheritance: @name is the class being defined, @extends each base class it names.

(class_specifier
  name: [(type_identifier) (template_type name: (type_identifier))] @name
  (base_class_clause [(type_identifier) (qualified_identifier) (template_type)] @extends))
(struct_specifier
  name: [(type_identifier) (template_type name: (type_identifier))] @name
  (base_class_clause [(type_identifier) (qualified_identifier) (template_type)] @extends))
