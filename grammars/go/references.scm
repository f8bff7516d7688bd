; References (see grammars/python/references.scm for the capture conventions).

(call_expression function: (identifier) @call)
(call_expression function: (selector_expression field: (field_identifier) @call))
(call_expression
  function: (index_expression operand: (identifier) @call))

(type_identifier) @type
(identifier) @reference
(field_identifier) @reference
