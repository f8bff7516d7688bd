; Inheritance: @name is the class being defined, @extends / @implements each base it names.

(class_definition
  name: (identifier) @name
  superclasses: (argument_list
    [(identifier) (attribute) (subscript)] @extends))
