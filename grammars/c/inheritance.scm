; C has no inheritance. (A struct whose first member is another struct is a convention, not
; syntax.) The query matches nothing but keeps the file set uniform across languages.

(struct_specifier
  name: (type_identifier) @name
  (field_declaration_list) @extends
  (#eq? @name "__no_inheritance_in_c__"))
