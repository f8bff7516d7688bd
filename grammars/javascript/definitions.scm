; Definitions (see grammars/python/definitions.scm for the capture conventions).

(class_declaration
  name: (identifier) @name
  body: (class_body) @body) @definition.class

(class
  name: (identifier) @name
  body: (class_body) @body) @definition.class

(function_declaration
  name: (identifier) @name
  body: (statement_block) @body) @definition.function

(generator_function_declaration
  name: (identifier) @name
  body: (statement_block) @body) @definition.function

(method_definition
  name: [(property_identifier) (private_property_identifier) (string)
         (computed_property_name)] @name
  body: (statement_block) @body) @definition.method

; const f = function () {…} / const f = (…) => …
(variable_declarator
  name: (identifier) @name
  value: [(function_expression) (arrow_function) (generator_function)] @body) @definition.function

; module.exports = function name () {…}: the function's own name (as ctags has it).
(assignment_expression
  right: (function_expression
    name: (identifier) @name
    body: (statement_block) @body)) @definition.function

; Object.prototype.m = function () {…}; exports.f = function () {…}; f = () => …
(assignment_expression
  left: [(identifier) @name (member_expression property: (property_identifier) @name)]
  right: [(function_expression) (arrow_function) (generator_function)] @body) @definition.function

; { m: function () {…} } and { m() {…} } in object literals
(pair
  key: [(property_identifier) (string)] @name
  value: [(function_expression) (arrow_function) (generator_function)] @body) @definition.function

; Object literals bound to a name are naming scopes (module.exports = {…}, const api = {…}),
; so their members get qualified names; they are not definitions themselves.
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

; module.exports = class … {…}: ctags names the class after the property.
(assignment_expression
  left: (member_expression property: (property_identifier) @name)
  right: (class body: (class_body) @body)) @definition.class

(field_definition
  property: [(property_identifier) (private_property_identifier)] @name) @definition.field

(program
  (lexical_declaration
    (variable_declarator name: (identifier) @name) @definition.variable))
(program
  (variable_declaration
    (variable_declarator name: (identifier) @name) @definition.variable))
