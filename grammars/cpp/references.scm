; References (see grammars/python/references.scm for the capture conventions).

(call_expression function: (identifier) @call)
(call_expression function: (field_expression field: (field_identifier) @call))
(call_expression function: (qualified_identifier name: (identifier) @call))
(call_expression
  function: (qualified_identifier name: (qualified_identifier name: (identifier) @call)))
(call_expression function: (template_function name: (identifier) @call))
(new_expression type: (type_identifier) @call)

(type_identifier) @type
(identifier) @reference
(field_identifier) @reference
(namespace_identifier) @reference
