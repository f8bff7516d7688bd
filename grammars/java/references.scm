; References (see grammars/python/references.scm for the capture conventions).

(method_invocation name: (identifier) @call)
(object_creation_expression type: (type_identifier) @call)
(object_creation_expression type: (generic_type (type_identifier) @call))
(object_creation_expression type: (scoped_type_identifier (type_identifier) @call .))

(type_identifier) @type
(identifier) @reference
