; References: @call for the called name, @type for names used as types, @reference for any
; other identifier. A node captured twice keeps the most specific kind (call > type > other).

(call function: (identifier) @call)
(call function: (attribute attribute: (identifier) @call))

(type (identifier) @type)
(type (attribute attribute: (identifier) @type))
(type (generic_type (identifier) @type))

(identifier) @reference
