; Inheritance: @name is the type being defined, @extends / @implements each base it names.

(class_declaration
  name: (identifier) @name
  superclass: (superclass (_) @extends))
(class_declaration
  name: (identifier) @name
  interfaces: (super_interfaces (type_list (_) @implements)))
(record_declaration
  name: (identifier) @name
  interfaces: (super_interfaces (type_list (_) @implements)))
(enum_declaration
  name: (identifier) @name
  interfaces: (super_interfaces (type_list (_) @implements)))
(interface_declaration
  name: (identifier) @name
  (extends_interfaces (type_list (_) @extends)))
