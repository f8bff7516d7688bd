; Go has no inheritance. Embedding a type in a struct or an interface is the nearest thing:
; its methods are promoted, so an embedded type is recorded as @extends.
; (Implicit interface satisfaction is resolved at query time: app/code/navigate.py.)

(type_spec
  name: (type_identifier) @name
  type: (struct_type
    (field_declaration_list
      (field_declaration
        !name
        type: [(type_identifier) (qualified_type) (pointer_type) (generic_type)] @extends))))
(type_spec
  name: (type_identifier) @name
  type: (interface_type
    (type_elem [(type_identifier) (qualified_type) (generic_type)] @extends)))
