; Definitions (see grammars/python/definitions.scm for the capture conventions).

(mod_item
  name: (identifier) @name
  body: (declaration_list) @body) @definition.module

(struct_item
  name: (type_identifier) @name) @definition.struct
(union_item
  name: (type_identifier) @name) @definition.union
(enum_item
  name: (type_identifier) @name
  body: (enum_variant_list) @body) @definition.enum
(trait_item
  name: (type_identifier) @name
  body: (declaration_list) @body) @definition.trait
(type_item
  name: (type_identifier) @name) @definition.type

(impl_item
  type: [(type_identifier) @name
         (generic_type type: (type_identifier) @name)
         (generic_type type: (scoped_type_identifier name: (type_identifier) @name))
         (scoped_type_identifier name: (type_identifier) @name)
         (reference_type type: (type_identifier) @name)]
  body: (declaration_list) @body) @definition.impl

(function_item
  name: (identifier) @name
  body: (block) @body) @definition.function
(function_signature_item
  name: (identifier) @name) @definition.function

(macro_definition
  name: (identifier) @name) @definition.macro

(field_declaration
  name: (field_identifier) @name) @definition.field

(const_item
  name: (identifier) @name) @definition.constant
(static_item
  name: (identifier) @name) @definition.variable
