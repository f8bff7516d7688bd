; Inheritance: `impl Trait for Type` (the impl block implements the trait) and supertraits.

(impl_item
  trait: [(type_identifier) (scoped_type_identifier) (generic_type)] @implements
  type: [(type_identifier) @name
         (generic_type type: (type_identifier) @name)
         (generic_type type: (scoped_type_identifier name: (type_identifier) @name))
         (scoped_type_identifier name: (type_identifier) @name)
         (reference_type type: (type_identifier) @name)])

(trait_item
  name: (type_identifier) @name
  bounds: (trait_bounds [(type_identifier) (scoped_type_identifier) (generic_type)] @extends))
