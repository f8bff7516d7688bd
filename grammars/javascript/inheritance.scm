; Inheritance: @name is the class being defined, @extends each base it names.

(class_declaration
  name: (identifier) @name
  (class_heritage [(identifier) (member_expression)] @extends))
(class
  name: (identifier) @name
  (class_heritage [(identifier) (member_expression)] @extends))
