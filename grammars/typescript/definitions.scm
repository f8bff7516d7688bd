; Definitions (see grammars/python/definitions.scm for the capture conventions).

(class_declaration
  name: (type_identifier) @name
  body: (class_body) @body) @definition.class

(abstract_class_declaration
  name: (type_identifier) @name
  body: (class_body) @body) @definition.class

(class
  name: (type_identifier) @name
  body: (class_body) @body) @definition.class

(interface_declaration
  name: (type_identifier) @name
  body: (interface_body) @body) @definition.interface

(enum_declaration
  name: (identifier) @name
  body: (enum_body) @body) @definition.enum

(type_alias_declaration
  name: (type_identifier) @name) @definition.type

(internal_module
  name: [(identifier) (nested_identifier)] @name
  body: (statement_block) @body) @definition.namespace

(function_declaration
  name: (identifier) @name
  body: (statement_block) @body) @definition.function

(generator_function_declaration
  name: (identifier) @name
  body: (statement_block) @body) @definition.function

; Overload signatures and `declare function` are definitions ctags reports too.
(function_signature
  name: (identifier) @name) @definition.function

(method_definition
  name: [(property_identifier) (private_property_identifier) (string)
         (computed_property_name)] @name
  body: (statement_block) @body) @definition.method

(method_signature
  name: [(property_identifier) (private_property_identifier) (string)
         (computed_property_name)] @name) @definition.method

(abstract_method_signature
  name: [(property_identifier) (private_property_identifier) (string)
         (computed_property_name)] @name) @definition.method

; module.exports = function name () {…}: the function's own name (as ctags has it).
(assignment_expression
  right: (function_expression
    name: (identifier) @name
    body: (statement_block) @body)) @definition.function

(variable_declarator
  name: (identifier) @name
  value: [(function_expression) (arrow_function) (generator_function)] @body) @definition.function

(assignment_expression
  left: [(identifier) @name (member_expression property: (property_identifier) @name)]
  right: [(function_expression) (arrow_function) (generator_function)] @body) @definition.function

(pair
  key: [(property_identifier) (string)] @name
  value: [(function_expression) (arrow_function) (generator_function)] @body) @definition.function

; Object literals are naming scopes for their members (see grammars/javascript).
(variable_declarator
  name: (identifier) @name
  value: (object)) @scope.object
(assignment_expression
  left: [(identifier) (member_expression)] @name
  right: (object)) @scope.object
(pair
  key: [(property_identifier) (string)] @name
  value: (object)) @scope.object
(object) @scope.object

(public_field_definition
  name: [(property_identifier) (private_property_identifier)] @name
  value: [(function_expression) (arrow_function)] @body) @definition.method

(public_field_definition
  name: [(property_identifier) (private_property_identifier)] @name) @definition.field

(property_signature
  name: [(property_identifier) (private_property_identifier)] @name) @definition.field

(program
  (lexical_declaration
    (variable_declarator name: (identifier) @name) @definition.variable))
(program
  (export_statement
    (lexical_declaration
      (variable_declarator name: (identifier) @name) @definition.variable)))

; `new (…): T` in an interface: a construct signature, named "new" as ctags names it.
(construct_signature "new" @name) @definition.method
