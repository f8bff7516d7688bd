; Definitions (see grammars/python/definitions.scm for the capture conventions).
; A function's name sits inside its declarator, under pointers/references to the return
; type; out-of-line members are named A::f (a qualified_identifier), split into scope and name.

(function_definition
  declarator: [
    (function_declarator declarator: [(identifier) (field_identifier) (qualified_identifier)
                                      (destructor_name) (operator_name)] @name)
    (pointer_declarator declarator: (function_declarator
      declarator: [(identifier) (field_identifier) (qualified_identifier) (operator_name)] @name))
    (pointer_declarator declarator: (pointer_declarator declarator: (function_declarator
      declarator: [(identifier) (field_identifier) (qualified_identifier) (operator_name)] @name)))
    (operator_cast) @name
    (reference_declarator (function_declarator
      declarator: [(identifier) (field_identifier) (qualified_identifier) (operator_name)] @name))
  ]
  body: (_) @body) @definition.function

; Member and free function declarations (ctags calls them prototypes and keeps them off by
; default; they help go-to-definition in headers).
(field_declaration
  declarator: [
    (function_declarator declarator: [(field_identifier) (destructor_name) (operator_name)] @name)
    (pointer_declarator declarator: (function_declarator declarator: (field_identifier) @name))
    (reference_declarator (function_declarator declarator: (field_identifier) @name))
  ]) @definition.prototype
(declaration
  declarator: [
    (function_declarator declarator: [(identifier) (destructor_name) (qualified_identifier)] @name)
    (pointer_declarator declarator: (function_declarator declarator: (identifier) @name))
  ]) @definition.prototype

(namespace_definition
  name: [(namespace_identifier) (nested_namespace_specifier)] @name
  body: (declaration_list) @body) @definition.namespace

(class_specifier
  name: [(type_identifier) (template_type name: (type_identifier))] @name
  body: (field_declaration_list) @body) @definition.class
(struct_specifier
  name: [(type_identifier) (template_type name: (type_identifier))] @name
  body: (field_declaration_list) @body) @definition.struct
(union_specifier
  name: (type_identifier) @name
  body: (field_declaration_list) @body) @definition.union
(enum_specifier
  name: (type_identifier) @name
  body: (enumerator_list) @body) @definition.enum
(type_definition
  declarator: (type_identifier) @name) @definition.type
(alias_declaration
  name: (type_identifier) @name) @definition.type
(enumerator
  name: (identifier) @name) @definition.constant

(field_declaration
  declarator: (field_identifier) @name) @definition.field

(preproc_def
  name: (identifier) @name) @definition.macro
(preproc_function_def
  name: (identifier) @name) @definition.macro
