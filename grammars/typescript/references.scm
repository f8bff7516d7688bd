; References (see grammars/python/references.scm for the capture conventions).

(call_expression function: (identifier) @call)
(call_expression function: (member_expression property: (property_identifier) @call))
(new_expression constructor: (identifier) @call)
(new_expression constructor: (member_expression property: (property_identifier) @call))

(type_identifier) @type
(identifier) @reference
(property_identifier) @reference
(shorthand_property_identifier) @reference
