; Definitions (see grammars/python/definitions.scm for the capture conventions).
; A function's name sits inside its declarator, under any pointers to the return type.

(function_definition
  declarator: [
    (function_declarator declarator: (identifier) @name)
    (pointer_declarator declarator: (function_declarator declarator: (identifier) @name))
    (pointer_declarator declarator: (pointer_declarator
      declarator: (function_declarator declarator: (identifier) @name)))
  ]
  body: (compound_statement) @body) @definition.function

; Prototypes (ctags keeps them off by default; they help go-to-definition in headers).
(declaration
  declarator: [
    (function_declarator declarator: (identifier) @name)
    (pointer_declarator declarator: (function_declarator declarator: (identifier) @name))
  ]) @definition.prototype

(struct_specifier
  name: (type_identifier) @name
  body: (field_declaration_list) @body) @definition.struct
(union_specifier
  name: (type_identifier) @name
  body: (field_declaration_list) @body) @definition.union
(enum_specifier
  name: (type_identifier) @name
  body: (enumerator_list) @body) @definition.enum
(type_definition
  declarator: (type_identifier) @name) @definition.type
(enumerator
  name: (identifier) @name) @definition.constant

(field_declaration
  declarator: (field_identifier) @name) @definition.field

(preproc_def
  name: (identifier) @name) @definition.macro
(preproc_function_def
  name: (identifier) @name) @definition.macro

(translation_unit
  (declaration
    declarator: [(identifier) @name
                 (init_declarator declarator: (identifier) @name)
                 (init_declarator declarator: (pointer_declarator declarator: (identifier) @name))
                 (init_declarator declarator: (array_declarator declarator: (identifier) @name))
                 (array_declarator declarator: (identifier) @name)
                 (pointer_declarator declarator: (identifier) @name)]) @definition.variable)
