; Definitions (see grammars/python/definitions.scm for the capture conventions). A method's
; @qualifier is its receiver's type, which becomes part of its qualified name.

(function_declaration
  name: (identifier) @name
  body: (block) @body) @definition.function
(function_declaration
  name: (identifier) @name) @definition.function

(method_declaration
  receiver: (parameter_list
    (parameter_declaration
      type: [(type_identifier) @qualifier
             (pointer_type (type_identifier) @qualifier)
             (generic_type type: (type_identifier) @qualifier)
             (pointer_type (generic_type type: (type_identifier) @qualifier))]))
  name: (field_identifier) @name
  body: (block) @body) @definition.method

(type_declaration
  (type_spec
    name: (type_identifier) @name
    type: (struct_type) @body) @definition.struct)
(type_declaration
  (type_spec
    name: (type_identifier) @name
    type: (interface_type) @body) @definition.interface)
(type_declaration
  (type_spec
    name: (type_identifier) @name) @definition.type)
(type_declaration
  (type_alias
    name: (type_identifier) @name) @definition.type)

(method_elem
  name: (field_identifier) @name) @definition.method

(field_declaration
  name: (field_identifier) @name) @definition.field

(source_file
  (const_declaration (const_spec name: (identifier) @name) @definition.constant))
(source_file
  (var_declaration (var_spec name: (identifier) @name) @definition.variable))
