; References (see grammars/python/references.scm for the capture conventions).

(invocation_expression function: (identifier) @call)
(invocation_expression function: (member_access_expression name: (identifier) @call))
(invocation_expression function: (generic_name (identifier) @call))
(invocation_expression
  function: (member_access_expression name: (generic_name (identifier) @call)))
(object_creation_expression type: (identifier) @call)
(object_creation_expression type: (generic_name (identifier) @call))
(object_creation_expression type: (qualified_name name: (identifier) @call))

(base_list (identifier) @type)
(base_list (generic_name (identifier) @type))
(parameter type: (identifier) @type)
(variable_declaration type: (identifier) @type)
(type_argument_list (identifier) @type)

(identifier) @reference
